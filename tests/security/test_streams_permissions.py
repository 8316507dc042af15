"""Hostile clients against permissions and ``view_as_consumer``."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, Permission, User
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import permissions as drf
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from streams import mixins
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.generics import GenericAsyncAPIConsumer
from streams.permissions import BasePermission, IsAuthenticated
from streams.views import view_as_consumer
from tests.conftest import request
from tests.testapp.models_permissions import PermNote

pytestmark = pytest.mark.django_db(transaction=True)

FORBIDDEN = ["You do not have permission to perform this action."]


class Guarded(AsyncAPIConsumer):
    permission_classes = [IsAuthenticated]

    @action()
    async def go(self, **kwargs: Any) -> tuple[Any, int]:
        self.scope["ran"].append(kwargs)
        return "ok", 200


def make_user(username: str, *codenames: str, **extra: Any) -> User:
    user = User.objects.create_user(username=username, password="x", **extra)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def alice(transactional_db) -> User:
    return make_user("alice")


@pytest.fixture
def mallory(transactional_db) -> User:
    return make_user("mallory")


# --------------------------------------------------------------- identity
async def test_anonymous_is_refused_every_time_and_socket_stays_open(communicator):
    ran: list[Any] = []
    comm = await communicator(Guarded.as_asgi(), user=AnonymousUser(), ran=ran)
    for i in range(20):
        got = await request(comm, {"action": "go", "request_id": i})
        assert got["response_status"] == 403 and got["errors"] == FORBIDDEN
        assert got["request_id"] == i
    assert ran == []
    got = await request(comm, {"action": "nope", "request_id": "still-open"})
    assert got["response_status"] == 405 and got["request_id"] == "still-open"


@pytest.mark.parametrize(
    "spoof",
    [
        {"user": "admin"},
        {"user": {"is_authenticated": True, "pk": 1}},
        {"is_authenticated": True},
        {"headers": [["authorization", "Token s3cret"]]},
        {"HTTP_AUTHORIZATION": "Token s3cret"},
        {"session": {"_auth_user_id": "1"}},
    ],
)
async def test_message_keys_cannot_impersonate(communicator, spoof):
    ran: list[Any] = []
    comm = await communicator(Guarded.as_asgi(), user=AnonymousUser(), ran=ran)
    got = await request(comm, dict(spoof, action="go"))
    assert got["response_status"] == 403
    assert ran == []


@pytest.mark.parametrize("key", ["scope", "consumer", "self"])
async def test_keys_shadowing_permission_parameters_are_400(communicator, alice, key):
    ran: list[Any] = []
    comm = await communicator(Guarded.as_asgi(), user=alice, ran=ran)
    got = await request(comm, {"action": "go", key: {"user": "admin"}, "request_id": 1})
    assert got["response_status"] == 400 and got["request_id"] == 1
    assert ran == []


class TokenHeader(drf.BasePermission):
    def has_permission(self, request, view):
        if request.method == "HEAD" and view.scope.get("open_socket"):
            return True  # the connect check: this socket is open, its actions are not
        return request.META.get("HTTP_AUTHORIZATION") == "Token s3cret"


async def test_header_permission_ignores_message_headers(communicator):
    comm = await communicator(
        type("T", (Guarded,), {"permission_classes": [TokenHeader]}).as_asgi(),
        ran=[],
        headers=[(b"authorization", b"Token guess")],
        open_socket=True,
    )
    got = await request(
        comm, {"action": "go", "HTTP_AUTHORIZATION": "Token s3cret", "authorization": "x"}
    )
    assert got["response_status"] == 403


# ------------------------------------------------------- misbehaving checks
class Explodes(BasePermission):
    def has_permission(self, scope, consumer, action, **kwargs):
        raise RuntimeError("secret permission internals")


class DrfRaisesNotAuthenticated(drf.BasePermission):
    def has_permission(self, request, view):
        if request.method == "HEAD" and not view.scope.get("raise_at_connect"):
            return True
        raise NotAuthenticated("Log in first.")


class ReturnsNone(BasePermission):
    async def has_permission(self, scope, consumer, action, **kwargs):
        return None


class ReturnsEmpty(drf.BasePermission):
    def has_permission(self, request, view):
        return []


def guarded(*classes: Any) -> Any:
    return type("G", (Guarded,), {"permission_classes": classes}).as_asgi()


async def test_crashing_permission_is_500_without_details(communicator, caplog):
    ran: list[Any] = []
    comm = await communicator(guarded(IsAuthenticated | Explodes), user=AnonymousUser(), ran=ran)
    with caplog.at_level(logging.ERROR, logger="streams.consumers"):
        got = await request(comm, {"action": "go", "request_id": "x"})
    assert got["response_status"] == 500 and got["errors"] == ["Internal server error."]
    assert "secret" not in str(got)
    assert any("secret permission internals" in str(r.exc_info[1]) for r in caplog.records)
    assert ran == []
    assert (await request(comm, {"action": "other"}))["response_status"] == 405


async def test_drf_permission_raising_api_exception(communicator):
    comm = await communicator(guarded(DrfRaisesNotAuthenticated), ran=[])
    got = await request(comm, {"action": "go"})
    assert got["response_status"] == 401 and got["errors"] == ["Log in first."]


async def test_drf_permission_raising_at_connect_refuses_the_socket():
    # DCRF let anything but PermissionDenied escape websocket_connect.
    comm = WebsocketCommunicator(guarded(DrfRaisesNotAuthenticated), "/")
    comm.scope.update(ran=[], raise_at_connect=True)
    assert await comm.connect() == (False, 4003)


@pytest.mark.parametrize("falsy", [ReturnsNone, ReturnsEmpty, ~IsAuthenticated | ReturnsNone])
async def test_falsy_answers_deny(communicator, alice, falsy):
    ran: list[Any] = []
    comm = WebsocketCommunicator(guarded(falsy), "/")
    comm.scope.update(user=alice, ran=ran)
    connected, code = await comm.connect()
    if falsy is ReturnsEmpty:
        # A DRF permission is asked at connect too (DCRF's HEAD request).
        assert (connected, code) == (False, 4003)
    else:
        assert connected
        assert (await request(comm, {"action": "go"}))["response_status"] == 403
        await comm.disconnect()
    assert ran == []


async def test_nested_composition_that_crashed_dcrf(communicator, alice):
    expr = (IsAuthenticated & TokenHeader) | IsAuthenticated
    comm = await communicator(guarded(expr, ~~expr), user=alice, ran=[])
    assert (await request(comm, {"action": "go"}))["response_status"] == 200


# --------------------------------------------------------- models, objects
class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = PermNote
        fields = ["id", "title", "owner"]
        read_only_fields = ["owner"]


class IsOwner(BasePermission):
    def has_object_permission(self, scope, consumer, action, obj, **kwargs):
        return obj.owner_id == getattr(scope.get("user"), "pk", None)


class Notes(
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.PatchModelMixin,
    mixins.DeleteModelMixin,
    GenericAsyncAPIConsumer,
):
    queryset = PermNote.objects.all()
    serializer_class = NoteSerializer
    permission_classes = [IsAuthenticated & IsOwner]


class OwnNotes(Notes):
    def get_queryset(self, **kwargs: Any) -> Any:
        return PermNote.objects.filter(owner=self.scope["user"].pk)


@pytest.fixture
def notes(alice, mallory) -> tuple[PermNote, PermNote]:
    return (
        PermNote.objects.create(title="alice's secret", owner=alice),
        PermNote.objects.create(title="mallory's", owner=mallory),
    )


async def test_obj_key_cannot_replace_the_checked_object(communicator, notes, mallory):
    alices, mallorys = notes
    comm = await communicator(Notes.as_asgi(), user=mallory)
    got = await request(comm, {"action": "retrieve", "pk": alices.pk, "obj": mallorys.pk})
    assert got["response_status"] in (400, 403)
    assert "secret" not in str(got)


@pytest.mark.parametrize("verb", ["retrieve", "patch", "delete"])
async def test_others_objects_refused_and_untouched(communicator, notes, mallory, verb):
    alices, _ = notes
    comm = await communicator(Notes.as_asgi(), user=mallory)
    got = await request(comm, {"action": verb, "pk": alices.pk, "data": {"title": "pwned"}})
    assert got["response_status"] == 403 and got["data"] is None
    assert "secret" not in str(got)
    assert (await PermNote.objects.aget(pk=alices.pk)).title == "alice's secret"


async def test_objects_outside_queryset_are_404_not_403(communicator, notes, mallory):
    alices, mallorys = notes
    comm = await communicator(OwnNotes.as_asgi(), user=mallory)
    hidden = await request(comm, {"action": "retrieve", "pk": alices.pk})
    missing = await request(comm, {"action": "retrieve", "pk": 10_000})
    assert hidden["response_status"] == missing["response_status"] == 404
    assert hidden["errors"] == missing["errors"]
    own = await request(comm, {"action": "retrieve", "pk": mallorys.pk})
    assert own["response_status"] == 200


async def test_inactive_user_has_no_model_permissions(communicator):
    user = await database_sync_to_async(make_user)(
        "ghost", "add_permnote", "change_permnote", is_active=False
    )
    comm = await communicator(
        type("M", (Notes,), {"permission_classes": [drf.DjangoModelPermissions]}).as_asgi(),
        user=user,
    )
    got = await request(comm, {"action": "create", "data": {"title": "x"}})
    assert got["response_status"] == 403
    assert not await PermNote.objects.filter(title="x").aexists()


async def test_change_only_user_cannot_create_however_asked(communicator):
    user = await database_sync_to_async(make_user)("editor", "change_permnote")
    comm = await communicator(
        type("M", (Notes,), {"permission_classes": [drf.DjangoModelPermissions]}).as_asgi(),
        user=user,
    )
    for message in (
        {"action": "create", "data": {"title": "x"}},
        {"action": "create", "data": {"title": "x"}, "method": "PUT"},
        {"action": "create", "data": {"title": "x"}, "REQUEST_METHOD": "PATCH"},
    ):
        assert (await request(comm, message))["response_status"] == 403
    assert not await PermNote.objects.filter(title="x").aexists()


# ------------------------------------------------------- view_as_consumer
def strict_view(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({"pk": pk})


def failing_view(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        raise Http404("hidden detail")
    raise RuntimeError("secret view internals")


class FailingApiView(APIView):
    def get(self, request: Request) -> Response:
        raise ValueError("secret api internals")


@pytest.mark.parametrize(
    "name", ["call_view", "get_view_args", "build_request", "reply", "__init__", "_private"]
)
async def test_view_consumer_internals_are_not_actions(communicator, name):
    comm = await communicator(view_as_consumer(strict_view))
    got = await request(comm, {"action": name, "request_id": 1})
    assert got["response_status"] == 405 and got["request_id"] == 1


@pytest.mark.parametrize(
    "message",
    [
        {"query": ["a", "b"]},
        {"query": "a=1"},
        {"query": {"a": {"nested": 1}}},
        {"query": {"a": [1, {"x": 2}]}},
        {"query": {"a": None}},
        {"parameters": [1]},
        {"parameters": "pk=1"},
        {"parameters": {"pk": 1, "request": "spoof"}},
        {"parameters": {"pk": 1, "unexpected": 2}},
        {"parameters": {}},
    ],
)
async def test_bad_view_messages_are_400(communicator, message):
    comm = await communicator(view_as_consumer(strict_view))
    got = await request(comm, dict(message, action="retrieve", request_id="r"))
    assert got["response_status"] == 400 and got["request_id"] == "r"
    assert (await request(comm, {"action": "retrieve", "parameters": {"pk": 1}}))["data"] == {
        "pk": 1
    }


async def test_view_exceptions(communicator, caplog):
    comm = await communicator(view_as_consumer(failing_view))
    got = await request(comm, {"action": "list"})
    assert got["response_status"] == 404 and got["errors"] == ["Not found"]
    with caplog.at_level(logging.ERROR, logger="streams.consumers"):
        got = await request(comm, {"action": "create", "request_id": 5})
    assert got["response_status"] == 500 and got["errors"] == ["Internal server error."]
    assert got["request_id"] == 5 and "secret" not in str(got)
    assert any("secret view internals" in str(r.exc_info[1]) for r in caplog.records)


async def test_drf_view_non_api_exception_is_500(communicator):
    comm = await communicator(view_as_consumer(FailingApiView))
    got = await request(comm, {"action": "list"})
    assert got["response_status"] == 500 and "secret" not in str(got)


async def test_view_consumer_permissions_apply_before_the_view(communicator):
    called: list[Any] = []

    def view(request: HttpRequest) -> JsonResponse:
        called.append(request)
        return JsonResponse({})

    app = view_as_consumer(view)
    protected = type(
        "P",
        (app.consumer_class,),
        {"permission_classes": [IsAuthenticated]},  # type: ignore[attr-defined]
    )
    comm = await communicator(protected.as_asgi(), user=AnonymousUser())
    assert (await request(comm, {"action": "list"}))["response_status"] == 403
    assert called == []


async def test_anonymous_cannot_authenticate_through_data(communicator):
    class WhoAmI(APIView):
        def post(self, request: Request) -> Response:
            return Response({"user": request.user.username or None})

    comm = await communicator(view_as_consumer(WhoAmI), user=AnonymousUser())
    got = await request(
        comm, {"action": "create", "data": {"username": "admin", "password": "x", "user": 1}}
    )
    assert got["data"] == {"user": None}
