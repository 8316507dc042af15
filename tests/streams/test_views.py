"""``view_as_consumer`` over a websocket: Django views, DRF views and ViewSets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.core.exceptions import ImproperlyConfigured
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views import View
from rest_framework import serializers, viewsets
from rest_framework.decorators import action as drf_action
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from streams.views import DEFAULT_MAPPED_ACTIONS, view_as_consumer
from tests.conftest import request
from tests.testapp.models_permissions import PermNote

pytestmark = pytest.mark.django_db(transaction=True)

ALL_ACTIONS = ["create", "update", "patch", "delete", "list", "retrieve"]


# -------------------------------------------------------------------- views
def _describe(request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
    session = getattr(request, "session", None)
    return {
        "method": request.method,
        "get": {key: request.GET.getlist(key) for key in request.GET},
        "kwargs": kwargs,
        "user": getattr(request.user, "username", None) or None,
        "auth": request.META.get("HTTP_AUTHORIZATION"),
        "session": session.get("colour") if session is not None else None,
    }


def django_echo(request: HttpRequest, **kwargs: Any) -> JsonResponse:
    body = request.body
    return JsonResponse(dict(_describe(request, **kwargs), body=json.loads(body) if body else None))


class DjangoEchoView(View):
    def get(self, request: HttpRequest, **kwargs: Any) -> JsonResponse:
        return django_echo(request, **kwargs)

    post = put = patch = delete = get


class DrfEchoView(APIView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        data = _describe(request, **kwargs)
        data["data"] = request.data
        data["query_params"] = dict(request.query_params)
        return Response(data)

    post = put = patch = delete = get


@api_view(["GET", "POST"])
def drf_function(request: Request, **kwargs: Any) -> Response:
    return Response({"method": request.method, "data": request.data, "kwargs": kwargs})


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = PermNote
        fields = ["id", "title", "owner"]
        read_only_fields = ["owner"]


class NoteViewSet(viewsets.ModelViewSet):
    queryset = PermNote.objects.all()
    serializer_class = NoteSerializer

    def perform_create(self, serializer: Any) -> None:
        serializer.save(owner=self.request.user if self.request.user.is_authenticated else None)

    @drf_action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: Any = None) -> Response:
        note = self.get_object()
        return Response({"published": note.title, "by": request.user.username})

    @drf_action(detail=False, permission_classes=[IsAuthenticated])
    def mine(self, request: Request) -> Response:
        notes = self.get_queryset().filter(owner=request.user)
        return Response([note.title for note in notes])


class ReadOnlyNotes(viewsets.ReadOnlyModelViewSet):
    queryset = PermNote.objects.all()
    serializer_class = NoteSerializer


@pytest.fixture
def alice(transactional_db) -> User:
    return User.objects.create_user(username="alice", password="x")


@pytest.fixture
def bob(transactional_db) -> User:
    return User.objects.create_user(username="bob", password="x")


@pytest.fixture
def note(alice) -> PermNote:
    return PermNote.objects.create(title="first", owner=alice)


# -------------------------------------------------------------- plain views
@pytest.mark.parametrize(
    "view",
    [django_echo, DjangoEchoView, DjangoEchoView.as_view()],
    ids=["function", "cbv", "as_view"],
)
async def test_django_view_receives_message_parts(communicator, alice, view):
    session = SessionStore()
    session["colour"] = "blue"
    comm = await communicator(
        view_as_consumer(view),
        user=alice,
        session=session,
        headers=[(b"authorization", b"Bearer abc")],
    )
    got = await request(
        comm,
        {
            "action": "create",
            "request_id": "r1",
            "query": {"q": "x", "tags": ["a", "b"], "n": 3},
            "parameters": {"pk": 7, "slug": "s"},
            "data": {"title": "t", "nested": [1, {"k": None}]},
        },
    )
    assert got["response_status"] == 200 and got["errors"] == []
    assert got["action"] == "create" and got["request_id"] == "r1"
    assert got["data"] == {
        "method": "POST",
        "get": {"q": ["x"], "tags": ["a", "b"], "n": ["3"]},
        "kwargs": {"pk": 7, "slug": "s"},
        "user": "alice",
        "auth": "Bearer abc",
        "session": "blue",
        "body": {"title": "t", "nested": [1, {"k": None}]},
    }


@pytest.mark.parametrize(
    ("socket_action", "method"),
    [
        ("create", "POST"),
        ("update", "PUT"),
        ("patch", "PATCH"),
        ("delete", "DELETE"),
        ("list", "GET"),
        ("retrieve", "GET"),
    ],
)
async def test_default_mapping_follows_http(communicator, socket_action, method):
    # DCRF mapped create to PUT and update to PATCH; see streams.views.
    comm = await communicator(view_as_consumer(django_echo))
    got = await request(comm, {"action": socket_action})
    assert got["data"]["method"] == method
    assert DEFAULT_MAPPED_ACTIONS[socket_action] == method


def test_available_actions_name_the_mapped_actions():
    app = view_as_consumer(django_echo, {"fetch": "get", "store": "POST"})
    assert dict(app.consumer_class.available_actions) == {
        "fetch": "call_view",
        "store": "call_view",
    }


async def test_custom_mapping(communicator):
    comm = await communicator(view_as_consumer(django_echo, {"fetch": "get", "store": "POST"}))
    assert (await request(comm, {"action": "fetch"}))["data"]["method"] == "GET"
    assert (await request(comm, {"action": "store"}))["data"]["method"] == "POST"
    got = await request(comm, {"action": "list", "request_id": 4})
    assert got["response_status"] == 405 and got["request_id"] == 4
    assert got["errors"] == ['Method "list" not allowed.']


async def test_text_response(communicator):
    def hello(request: HttpRequest) -> HttpResponse:
        return HttpResponse("héllo", content_type="text/plain; charset=utf-8", status=202)

    comm = await communicator(view_as_consumer(hello))
    got = await request(comm, {"action": "list"})
    assert got["data"] == "héllo" and got["response_status"] == 202


async def test_streaming_and_empty_responses(communicator):
    def streamed(request: HttpRequest) -> HttpResponse:
        if request.method == "DELETE":
            return HttpResponse(status=204)
        return StreamingHttpResponse(iter([b"a", b"b", b"c"]), content_type="text/plain")

    comm = await communicator(view_as_consumer(streamed))
    assert (await request(comm, {"action": "list"}))["data"] == "abc"
    got = await request(comm, {"action": "delete"})
    assert got["response_status"] == 204 and got["data"] is None and got["errors"] == []


async def test_error_responses_become_error_frames(communicator):
    def guarded(request: HttpRequest) -> HttpResponse:
        if request.method == "GET":
            return HttpResponseForbidden("nope")
        if request.method == "PUT":
            return JsonResponse({"title": ["bad"]}, status=400)
        if request.method == "DELETE":
            return HttpResponse(status=410)
        raise Http404("no such thing")

    comm = await communicator(view_as_consumer(guarded))
    got = await request(comm, {"action": "list", "request_id": 1})
    assert got == {
        "errors": ["nope"],
        "data": None,
        "action": "list",
        "response_status": 403,
        "request_id": 1,
    }
    got = await request(comm, {"action": "update"})
    assert got["errors"] == [{"title": ["bad"]}] and got["response_status"] == 400
    got = await request(comm, {"action": "delete"})
    assert got["errors"] == ["Gone"] and got["response_status"] == 410
    got = await request(comm, {"action": "create"})
    assert got["errors"] == ["Not found"] and got["response_status"] == 404


# ---------------------------------------------------------------- DRF views
async def test_drf_api_view(communicator, alice):
    comm = await communicator(
        view_as_consumer(DrfEchoView), user=alice, headers=[(b"authorization", b"Token t")]
    )
    got = await request(
        comm,
        {
            "action": "patch",
            "query": {"page": 2},
            "parameters": {"pk": "9"},
            "data": {"title": "x"},
        },
    )
    assert got["response_status"] == 200
    data = got["data"]
    assert data["method"] == "PATCH" and data["data"] == {"title": "x"}
    assert data["query_params"] == {"page": ["2"]} and data["kwargs"] == {"pk": "9"}
    assert data["user"] == "alice" and data["auth"] == "Token t"


async def test_drf_post_with_session_user_is_not_blocked_by_csrf(communicator, alice):
    # DRF's SessionAuthentication enforces CSRF for session users; the socket
    # is not a form post, so the requests are exempt (see streams.views).
    comm = await communicator(view_as_consumer(drf_function), user=alice)
    got = await request(comm, {"action": "create", "data": {"a": 1}})
    assert got["response_status"] == 200
    assert got["data"] == {"method": "POST", "data": {"a": 1}, "kwargs": {}}


async def test_drf_function_view_refuses_unmapped_method(communicator):
    comm = await communicator(view_as_consumer(drf_function))
    got = await request(comm, {"action": "delete"})
    assert got["response_status"] == 405
    assert got["errors"] == ['Method "DELETE" not allowed.']


async def test_drf_exceptions_become_their_status(communicator):
    class Strict(APIView):
        permission_classes = [IsAuthenticated]

        def post(self, request: Request) -> Response:
            raise ValidationError({"title": ["This field is required."]})

        def get(self, request: Request) -> Response:
            return Response({"ok": True})

    comm = await communicator(view_as_consumer(Strict), user=AnonymousUser())
    got = await request(comm, {"action": "list"})
    assert got["response_status"] in (401, 403)
    assert got["errors"] == ["Authentication credentials were not provided."]


async def test_drf_validation_error(communicator, alice):
    comm = await communicator(view_as_consumer(NoteViewSet), user=alice)
    got = await request(comm, {"action": "create", "data": {}})
    assert got["response_status"] == 400
    assert got["errors"] == [{"title": ["This field is required."]}]


# ----------------------------------------------------------------- ViewSets
async def test_viewset_class_crud(communicator, alice, note):
    comm = await communicator(view_as_consumer(NoteViewSet), user=alice)
    got = await request(comm, {"action": "list"})
    assert got["data"] == [{"id": note.pk, "title": "first", "owner": alice.pk}]
    got = await request(comm, {"action": "retrieve", "parameters": {"pk": note.pk}})
    assert got["data"]["title"] == "first"
    got = await request(comm, {"action": "create", "data": {"title": "second"}})
    assert got["response_status"] == 201 and got["data"]["owner"] == alice.pk
    new_pk = got["data"]["id"]
    got = await request(
        comm, {"action": "update", "parameters": {"pk": new_pk}, "data": {"title": "2nd"}}
    )
    assert got["response_status"] == 200 and got["data"]["title"] == "2nd"
    got = await request(
        comm, {"action": "patch", "parameters": {"pk": new_pk}, "data": {"title": "two"}}
    )
    assert got["data"]["title"] == "two"
    got = await request(comm, {"action": "delete", "parameters": {"pk": new_pk}})
    assert got["response_status"] == 204 and got["data"] is None
    assert not await PermNote.objects.filter(pk=new_pk).aexists()


async def test_viewset_not_found(communicator, note):
    comm = await communicator(view_as_consumer(NoteViewSet))
    got = await request(comm, {"action": "retrieve", "parameters": {"pk": 999}})
    assert got["response_status"] == 404
    assert got["errors"] == ["No PermNote matches the given query."]


async def test_viewset_extra_actions(communicator, alice, note):
    mapping = {"publish": "POST", "mine": "GET", "list": "GET"}
    comm = await communicator(view_as_consumer(NoteViewSet, mapping), user=alice)
    got = await request(comm, {"action": "publish", "parameters": {"pk": note.pk}})
    assert got["data"] == {"published": "first", "by": "alice"}
    assert (await request(comm, {"action": "mine"}))["data"] == ["first"]
    assert (await request(comm, {"action": "create"}))["response_status"] == 405


async def test_viewset_extra_action_keeps_its_own_permissions(communicator, note):
    comm = await communicator(view_as_consumer(NoteViewSet, {"mine": "GET"}), user=AnonymousUser())
    got = await request(comm, {"action": "mine"})
    assert got["response_status"] in (401, 403)


async def test_read_only_viewset_registers_only_its_actions(communicator, note):
    comm = await communicator(view_as_consumer(ReadOnlyNotes))
    assert (await request(comm, {"action": "list"}))["response_status"] == 200
    got = await request(comm, {"action": "create", "data": {"title": "x"}})
    assert got["response_status"] == 405


async def test_viewset_as_view(communicator, note):
    view = NoteViewSet.as_view({"get": "list", "post": "create"})
    comm = await communicator(view_as_consumer(view, {"list": "GET", "create": "POST"}))
    assert len((await request(comm, {"action": "list"}))["data"]) == 1
    got = await request(comm, {"action": "create", "data": {"title": "x"}})
    assert got["response_status"] == 201


# ------------------------------------------------------------ per connection
async def test_each_connection_gets_its_own_consumer_and_replies(communicator, alice, bob):
    app = view_as_consumer(DrfEchoView)
    first = await communicator(app, user=alice)
    second = await communicator(app, user=bob)
    for i in range(5):
        await first.send_json_to({"action": "list", "request_id": f"a{i}"})
        await second.send_json_to({"action": "list", "request_id": f"b{i}"})
    replies_a = [await first.receive_json_from() for _ in range(5)]
    replies_b = [await second.receive_json_from() for _ in range(5)]
    assert {(r["request_id"][0], r["data"]["user"]) for r in replies_a} == {("a", "alice")}
    assert {(r["request_id"][0], r["data"]["user"]) for r in replies_b} == {("b", "bob")}
    assert await first.receive_nothing(timeout=0.05)
    assert await second.receive_nothing(timeout=0.05)


async def test_concurrent_connections_do_not_share_state(communicator, alice, bob):
    app = view_as_consumer(django_echo)
    comms = [await communicator(app, user=user) for user in (alice, bob, alice, bob)]
    replies = await asyncio.gather(
        *(request(comm, {"action": "list", "request_id": i}) for i, comm in enumerate(comms))
    )
    assert [r["data"]["user"] for r in replies] == ["alice", "bob", "alice", "bob"]
    assert [r["request_id"] for r in replies] == [0, 1, 2, 3]


async def test_view_runs_in_the_database_thread(communicator, note):
    def count(request: HttpRequest) -> JsonResponse:
        # A synchronous ORM call: would raise SynchronousOnlyOperation on the loop.
        return JsonResponse({"count": PermNote.objects.count()})

    comm = await communicator(view_as_consumer(count))
    assert (await request(comm, {"action": "list"}))["data"] == {"count": 1}


def test_lazy_reexport_from_consumers():
    from streams import consumers

    assert consumers.view_as_consumer is view_as_consumer


# ------------------------------------------------------------ configuration
@pytest.mark.parametrize(
    ("view", "mapping", "match"),
    [
        (django_echo, {"list": "FETCH"}, "not an HTTP method"),
        (django_echo, {"list": 3}, "not an HTTP method"),
        (django_echo, {"": "GET"}, "non-empty strings"),
        (django_echo, ["list"], "mapping of action name"),
        (django_echo, {}, "no action is mapped"),
        (NoteViewSet, {"archive": "POST"}, "no handler 'archive'"),
        (NoteViewSet, {"publish": "GET"}, "accepts POST, not GET"),
        (ReadOnlyNotes, {"create": "POST"}, "no handler 'create'"),
        ("not a view", None, "takes a view function"),
    ],
)
def test_misconfiguration_names_the_fix(view, mapping, match):
    with pytest.raises(ImproperlyConfigured, match=match):
        view_as_consumer(view, mapping)


async def test_app_builds_a_new_consumer_class_instance_per_call():
    app = view_as_consumer(django_echo)
    assert app.consumer_class.view_routes["create"].method == "POST"  # type: ignore[attr-defined]
    other = view_as_consumer(django_echo, {"list": "GET"})
    assert other.consumer_class is not app.consumer_class  # type: ignore[attr-defined]
    assert "create" not in other.consumer_class.actions  # type: ignore[attr-defined]


async def test_user_created_in_thread_visible(communicator):
    # The view sees data committed by other threads (no shared test transaction).
    user = await database_sync_to_async(User.objects.create_user)("carol", password="x")
    comm = await communicator(view_as_consumer(django_echo), user=user)
    assert (await request(comm, {"action": "list"}))["data"]["user"] == "carol"
