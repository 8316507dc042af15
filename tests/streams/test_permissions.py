"""Permissions over a websocket: composition, sync/async operands, DRF wrapping, objects."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from itertools import product
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, Permission, User
from django.test import override_settings
from rest_framework import permissions as drf
from rest_framework import serializers

from streams import mixins
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.generics import GenericAsyncAPIConsumer
from streams.permissions import (
    AND,
    NOT,
    OR,
    AllowAny,
    BasePermission,
    IsAuthenticated,
    WrappedDRFPermission,
    get_permission_instances,
)
from tests.conftest import request
from tests.testapp.models_permissions import PermNote

# DRF permissions run in the database thread, whose connection housekeeping
# needs database access; sync actions need committed data (see support.py).
pytestmark = pytest.mark.django_db(transaction=True)

FORBIDDEN = ["You do not have permission to perform this action."]


# ------------------------------------------------------------------ helpers
def calls_of(scope: dict[str, Any]) -> list[str]:
    return scope.setdefault("calls", [])


def make_perm(value: bool, kind: str, label: str) -> type:
    """A permission class answering ``value``: ``kind`` is sync, async or drf."""
    if kind == "drf":

        def drf_has_permission(self: Any, request: Any, view: Any) -> bool:
            # Asked at connect too (a HEAD request, as in DCRF); the calls
            # recorded are the action's.
            if request.method != "HEAD":
                calls_of(view.scope).append(label)
            return value

        return type(f"Drf{label}", (drf.BasePermission,), {"has_permission": drf_has_permission})
    if kind == "async":

        async def async_has_permission(self, scope, consumer, action, **kwargs):
            calls_of(scope).append(label)
            return value

        return type(f"Async{label}", (BasePermission,), {"has_permission": async_has_permission})

    def sync_has_permission(self, scope, consumer, action, **kwargs):
        calls_of(scope).append(label)
        return value

    return type(f"Sync{label}", (BasePermission,), {"has_permission": sync_has_permission})


def consumer_for(*classes: Any) -> type[AsyncAPIConsumer]:
    class Guarded(AsyncAPIConsumer):
        permission_classes = classes

        @action()
        async def go(self, **kwargs: Any) -> tuple[Any, int]:
            return "ok", 200

    return Guarded


async def status_of(communicator: Any, *classes: Any, **scope: Any) -> int:
    """The status of an action under ``classes``; 403 when the socket is refused.

    DRF permissions are asked at connect (as in DCRF), so a composition sure to
    refuse refuses the socket (403 frames under a gateway) before any action.
    """
    comm = WebsocketCommunicator(consumer_for(*classes).as_asgi(), "/")
    comm.scope.update(scope)
    connected, code = await comm.connect()
    if not connected:
        assert code == 4003
        return 403
    try:
        got = await request(comm, {"action": "go"})
    finally:
        await comm.disconnect()
    return int(got["response_status"])


# ------------------------------------------------------------ truth tables
Build = Callable[[Any, Any], Any]
EXPRESSIONS: dict[str, tuple[Build, Callable[[bool, bool], bool]]] = {
    "A & B": (lambda A, B: A & B, lambda a, b: a and b),
    "A | B": (lambda A, B: A | B, lambda a, b: a or b),
    "~A": (lambda A, B: ~A, lambda a, b: not a),
    "(A & B) | A": (lambda A, B: (A & B) | A, lambda a, b: (a and b) or a),
    "~(A | B)": (lambda A, B: ~(A | B), lambda a, b: not (a or b)),
    "B | (A & ~B)": (lambda A, B: B | (A & ~B), lambda a, b: b or (a and not b)),
    "(A | B) & ~(A & B)": (lambda A, B: (A | B) & ~(A & B), lambda a, b: a != b),
    "~~((A & B) | (~A & ~B))": (
        lambda A, B: ~~((A & B) | (~A & ~B)),
        lambda a, b: a == b,
    ),
}

KIND_PAIRS = list(product(["sync", "async", "drf"], repeat=2))


@pytest.mark.parametrize("expression", list(EXPRESSIONS))
@pytest.mark.parametrize("kinds", KIND_PAIRS, ids=["-".join(k) for k in KIND_PAIRS])
async def test_class_composition_truth_table(communicator, expression, kinds):
    build, expected = EXPRESSIONS[expression]
    for a, b in product([True, False], repeat=2):
        A, B = make_perm(a, kinds[0], "A"), make_perm(b, kinds[1], "B")
        status = await status_of(communicator, build(A, B))
        assert status == (200 if expected(a, b) else 403), (expression, kinds, a, b)


@pytest.mark.parametrize("expression", list(EXPRESSIONS))
@pytest.mark.parametrize("form", ["instances", "class-and-instance", "instance-and-class"])
async def test_instance_composition_truth_table(communicator, expression, form):
    build, expected = EXPRESSIONS[expression]
    for a, b in product([True, False], repeat=2):
        A, B = make_perm(a, "sync", "A"), make_perm(b, "async", "B")
        left = A() if form in ("instances", "instance-and-class") else A
        right = B() if form in ("instances", "class-and-instance") else B
        status = await status_of(communicator, build(left, right))
        assert status == (200 if expected(a, b) else 403), (expression, form, a, b)


async def test_every_listed_permission_must_allow(communicator):
    yes, no = make_perm(True, "sync", "Y"), make_perm(False, "async", "N")
    assert await status_of(communicator, yes, yes) == 200
    assert await status_of(communicator, yes, no) == 403
    assert await status_of(communicator) == 200  # no permission: allowed


async def test_deep_nesting(communicator):
    yes, no = make_perm(True, "sync", "Y"), make_perm(False, "async", "N")
    expr: Any = yes
    for depth in range(40):
        expr = (expr & yes) | no if depth % 2 else ~~expr
    assert await status_of(communicator, expr) == 200
    assert await status_of(communicator, expr & no) == 403


# ------------------------------------------------------------ short-circuit
@pytest.mark.parametrize("kind", ["sync", "async", "drf"])
@pytest.mark.parametrize(
    ("build", "a", "expected_calls"),
    [
        (lambda A, B: A & B, False, ["A"]),
        (lambda A, B: A & B, True, ["A", "B"]),
        (lambda A, B: A | B, True, ["A"]),
        (lambda A, B: A | B, False, ["A", "B"]),
    ],
    ids=["and-false", "and-true", "or-true", "or-false"],
)
async def test_short_circuit_like_drf(communicator, kind, build, a, expected_calls):
    calls: list[str] = []
    A, B = make_perm(a, kind, "A"), make_perm(True, kind, "B")
    status = await status_of(communicator, build(A, B), calls=calls)
    if kind == "drf" and status == 403:
        # A refusing DRF operand of an AND refuses the socket at connect, as in
        # DCRF: no action runs (make_perm records only the action's calls).
        assert calls == []
    else:
        assert calls == expected_calls


def test_sync_composition_stays_sync():
    yes, no = make_perm(True, "sync", "Y"), make_perm(False, "sync", "N")
    scope: dict[str, Any] = {}
    result = ((yes & no) | ~no)().has_permission(scope, None, "go")
    assert result is True
    assert calls_of(scope) == ["Y", "N", "N"]


async def test_async_operand_makes_an_awaitable():
    yes, later = make_perm(True, "sync", "Y"), make_perm(False, "async", "L")
    result = (yes & later)().has_permission({}, None, "go")
    assert inspect.isawaitable(result)
    assert await result is False


def test_composed_classes_build_composed_instances():
    A, B = make_perm(True, "sync", "A"), make_perm(True, "sync", "B")
    (built,) = get_permission_instances([(A & B) | ~A])
    assert isinstance(built, OR)
    assert isinstance(built.op1, AND) and isinstance(built.op2, NOT)
    assert "A" in repr((A & B) | ~A)


@pytest.mark.parametrize("entry", [42, "streams.permissions.AllowAny", object(), None])
def test_non_permission_entries_raise_naming_the_fix(entry):
    with pytest.raises(TypeError, match="permission_classes"):
        get_permission_instances([entry])


# -------------------------------------------------------------- can_connect
class DenyConnect(BasePermission):
    async def can_connect(self, scope, consumer, message=None):
        return False


class AllowConnect(BasePermission):
    def can_connect(self, scope, consumer, message=None):
        return True


async def connect_code(*classes: Any) -> tuple[bool, Any]:
    comm = WebsocketCommunicator(consumer_for(*classes).as_asgi(), "/")
    connected, code = await comm.connect()
    if connected:
        await comm.disconnect()
    return connected, code


@pytest.mark.parametrize(
    ("expr", "accepted"),
    [
        (DenyConnect, False),
        (~DenyConnect, True),
        (AllowConnect & DenyConnect, False),
        (DenyConnect | AllowConnect, True),
        (~(AllowConnect | DenyConnect), False),
        ((DenyConnect & AllowConnect) | DenyConnect, False),
        # Negation leaves hooks the operand does not define alone: an
        # "anonymous only" stream must not refuse every socket.
        (~IsAuthenticated, True),
        (~drf.IsAuthenticated, True),
        # DRF permissions are asked at connect with a HEAD request, as in DCRF.
        (drf.IsAdminUser, False),
        (drf.IsAuthenticatedOrReadOnly, True),
        # Sure to refuse only when every operand has a connect opinion.
        (~(IsAuthenticated | drf.IsAdminUser), True),
        (DenyConnect & drf.IsAdminUser, False),
    ],
)
async def test_can_connect_composition(expr, accepted):
    connected, code = await connect_code(expr)
    assert connected is accepted
    if not accepted:
        assert code == 4003


# ------------------------------------------------------------------- users
def make_user(username: str, *codenames: str, **extra: Any) -> User:
    user = User.objects.create_user(username=username, password="x", **extra)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return User.objects.get(pk=user.pk)  # fresh: no permission cache


@pytest.fixture
def alice(transactional_db) -> User:
    return make_user("alice")


@pytest.fixture
def admin(transactional_db) -> User:
    return make_user("admin", is_staff=True)


@pytest.mark.parametrize("cls", [IsAuthenticated, drf.IsAuthenticated])
async def test_is_authenticated(communicator, alice, cls):
    assert await status_of(communicator, cls, user=alice) == 200
    assert await status_of(communicator, cls, user=AnonymousUser()) == 403
    assert await status_of(communicator, cls) == 403  # no user in the scope at all


async def test_negated_is_authenticated_is_anonymous_only(communicator, alice):
    assert await status_of(communicator, ~IsAuthenticated, user=AnonymousUser()) == 200
    assert await status_of(communicator, ~IsAuthenticated, user=alice) == 403
    assert await status_of(communicator, ~AllowAny, user=alice) == 403


async def test_drf_is_admin_user(communicator, alice, admin):
    assert await status_of(communicator, drf.IsAdminUser, user=admin) == 200
    assert await status_of(communicator, drf.IsAdminUser, user=alice) == 403
    assert await status_of(communicator, drf.IsAuthenticated & drf.IsAdminUser, user=alice) == 403
    assert await status_of(communicator, drf.IsAdminUser | IsAuthenticated, user=alice) == 200
    assert await status_of(communicator, IsAuthenticated & ~drf.IsAdminUser, user=alice) == 200


async def test_default_permission_classes_setting_accepts_drf_paths(communicator, alice):
    class Default(AsyncAPIConsumer):
        @action()
        async def go(self, **kwargs: Any) -> tuple[Any, int]:
            return "ok", 200

    setting = {"DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"]}
    with override_settings(CHANNELS_GATEWAY=setting):
        refused = WebsocketCommunicator(Default.as_asgi(), "/")
        refused.scope["user"] = AnonymousUser()
        assert await refused.connect() == (False, 4003)
        comm = await communicator(Default.as_asgi(), user=alice)
        assert (await request(comm, {"action": "go"}))["response_status"] == 200


# -------------------------------------------------------- DRF request shape
class RecordsRequest(drf.BasePermission):
    def has_permission(self, request, view):
        calls_of(view.scope).append(
            (request.method, request.META.get("HTTP_AUTHORIZATION"), request.user.username)
        )
        return True


class ActionsConsumer(AsyncAPIConsumer):
    permission_classes = [RecordsRequest]

    @action()
    async def create(self, **kwargs):
        return None, 201

    @action()
    async def update(self, **kwargs):
        return None, 200

    @action()
    async def patch(self, **kwargs):
        return None, 200

    @action()
    async def delete(self, **kwargs):
        return None, 204

    @action()
    async def list(self, **kwargs):
        return [], 200

    @action()
    async def retrieve(self, **kwargs):
        return None, 200

    @action()
    async def custom(self, **kwargs):
        return None, 200

    @action(method="GET")
    async def peek(self, **kwargs):
        return None, 200

    @action(method="delete")
    async def purge(self, **kwargs):
        return None, 200


async def test_drf_request_method_follows_the_action(communicator, alice):
    calls: list[Any] = []
    headers = [(b"authorization", b"Token s3cret"), (b"host", b"example.com")]
    comm = await communicator(ActionsConsumer.as_asgi(), user=alice, calls=calls, headers=headers)
    names = ["create", "update", "patch", "delete", "list", "retrieve", "custom", "peek", "purge"]
    for name in names:
        assert (await request(comm, {"action": name}))["response_status"] < 300
    assert [method for method, _, _ in calls] == [
        "HEAD",  # the connect check (DCRF's)
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
        "GET",
        "GET",
        "POST",  # undeclared custom action: judged as a write
        "GET",  # declared safe
        "DELETE",  # declared, case-insensitive
    ]
    assert {(auth, name) for _, auth, name in calls} == {("Token s3cret", "alice")}


class TokenHeader(drf.BasePermission):
    message = "A valid token is required."

    def has_permission(self, request, view):
        if request.method == "HEAD" and view.scope.get("open_socket"):
            return True  # the connect check: this socket is open, its actions are not
        return request.META.get("HTTP_AUTHORIZATION") == "Token s3cret"


async def test_drf_permission_reads_authorization_header(communicator):
    good = [(b"authorization", b"Token s3cret")]
    bad = [(b"authorization", b"Token guess")]
    comm = await communicator(consumer_for(TokenHeader).as_asgi(), headers=good)
    assert (await request(comm, {"action": "go"}))["response_status"] == 200
    refused = WebsocketCommunicator(consumer_for(TokenHeader).as_asgi(), "/")
    refused.scope["headers"] = bad
    assert await refused.connect() == (False, 4003)
    comm = await communicator(consumer_for(TokenHeader).as_asgi(), headers=bad, open_socket=True)
    got = await request(comm, {"action": "go", "request_id": 9})
    assert got["response_status"] == 403
    assert got["errors"] == ["A valid token is required."]
    assert got["request_id"] == 9


class DynamicMessage(drf.BasePermission):
    def has_permission(self, request, view):
        if request.method == "HEAD":
            return True
        self.message = f"No entry on {request.method}."
        return False


async def test_drf_message_set_while_refusing_surfaces(communicator):
    comm = await communicator(consumer_for(DynamicMessage).as_asgi())
    got = await request(comm, {"action": "go"})
    assert got["errors"] == ["No entry on POST."]  # "go" declares no method


class OwnMessage(BasePermission):
    message = "Members only."

    def has_permission(self, scope, consumer, action, **kwargs):
        return False


async def test_own_permission_message_surfaces(communicator):
    comm = await communicator(consumer_for(OwnMessage).as_asgi())
    assert (await request(comm, {"action": "go"}))["errors"] == ["Members only."]


async def test_composed_permission_uses_default_message(communicator):
    comm = await communicator(consumer_for(OwnMessage & TokenHeader).as_asgi(), open_socket=True)
    assert (await request(comm, {"action": "go"}))["errors"] == FORBIDDEN


def test_drf_entries_are_wrapped():
    built = get_permission_instances(
        [drf.IsAdminUser, drf.IsAuthenticated(), drf.IsAuthenticated & drf.IsAdminUser]
    )
    assert isinstance(built[0], WrappedDRFPermission)
    assert isinstance(built[1], WrappedDRFPermission)
    assert isinstance(built[2], AND)
    assert isinstance(built[2].op1, WrappedDRFPermission)


# --------------------------------------------------- models and objects
class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = PermNote
        fields = ["id", "title", "owner"]
        read_only_fields = ["owner"]


class NoteConsumer(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.PatchModelMixin,
    mixins.DeleteModelMixin,
    GenericAsyncAPIConsumer,
):
    queryset = PermNote.objects.all()
    serializer_class = NoteSerializer


def note_consumer(*classes: Any) -> Any:
    return type("Notes", (NoteConsumer,), {"permission_classes": classes}).as_asgi()


@pytest.fixture
def notes(alice, admin) -> list[PermNote]:
    return [
        PermNote.objects.create(title="alice's", owner=alice),
        PermNote.objects.create(title="admin's", owner=admin),
    ]


async def test_django_model_permissions_follow_http_methods(communicator, notes):
    editor = await User.objects.aget(pk=(await _user("editor", "change_permnote")).pk)
    comm = await communicator(note_consumer(drf.DjangoModelPermissions), user=editor)
    pk = notes[0].pk

    got = await request(comm, {"action": "create", "data": {"title": "new"}})
    assert got["response_status"] == 403  # change does not imply add
    assert not await PermNote.objects.filter(title="new").aexists()
    got = await request(comm, {"action": "update", "pk": pk, "data": {"title": "u"}})
    assert got["response_status"] == 200
    got = await request(comm, {"action": "patch", "pk": pk, "data": {"title": "p"}})
    assert got["response_status"] == 200
    assert (await request(comm, {"action": "delete", "pk": pk}))["response_status"] == 403
    assert await PermNote.objects.filter(pk=pk).aexists()
    assert (await request(comm, {"action": "list"}))["response_status"] == 200
    assert (await request(comm, {"action": "retrieve", "pk": pk}))["response_status"] == 200


async def test_django_model_permissions_add_and_delete(communicator, notes):
    user = await _user("manager", "add_permnote", "delete_permnote")
    comm = await communicator(note_consumer(drf.DjangoModelPermissions), user=user)
    got = await request(comm, {"action": "create", "data": {"title": "new"}})
    assert got["response_status"] == 201
    got = await request(comm, {"action": "patch", "pk": notes[0].pk, "data": {"title": "x"}})
    assert got["response_status"] == 403
    assert (await request(comm, {"action": "delete", "pk": notes[0].pk}))["response_status"] == 204


async def test_django_model_permissions_refuse_anonymous(notes):
    # DjangoModelPermissions refuses anonymous users, at connect (HEAD) as in DCRF.
    comm = WebsocketCommunicator(note_consumer(drf.DjangoModelPermissions), "/")
    comm.scope["user"] = AnonymousUser()
    assert await comm.connect() == (False, 4003)


async def test_django_model_permissions_on_plain_consumer_with_queryset(communicator):
    user = await _user("reader")

    class Plain(AsyncAPIConsumer):
        queryset = PermNote.objects.all()
        permission_classes = [drf.DjangoModelPermissions]

        @action()
        async def create(self, **kwargs):
            return "made", 201

    comm = await communicator(Plain.as_asgi(), user=user)
    assert (await request(comm, {"action": "create"}))["response_status"] == 403


class ArchivingNotes(NoteConsumer):
    """Custom actions beside the generated ones, under DjangoModelPermissions."""

    permission_classes = [drf.DjangoModelPermissions]

    @action()
    def archive(self, pk: Any = None, **kwargs: Any) -> tuple[Any, int]:
        PermNote.objects.filter(pk=pk).update(title="archived")
        return "archived", 200

    @action(method="GET")
    def count(self, **kwargs: Any) -> tuple[Any, int]:
        return PermNote.objects.count(), 200

    @action(method="DELETE")
    def purge(self, **kwargs: Any) -> tuple[Any, int]:
        PermNote.objects.all().delete()
        return None, 204


async def test_undeclared_custom_action_is_a_write_under_django_model_permissions(
    communicator, notes
):
    # DCRF judged every custom action as a GET: a user with no permission at
    # all could run this write. Undeclared, it is now a POST (needs "add").
    nobody = await _user("nobody")
    comm = await communicator(ArchivingNotes.as_asgi(), user=nobody)
    got = await request(comm, {"action": "archive", "pk": notes[0].pk})
    assert got["response_status"] == 403
    assert got["errors"] == FORBIDDEN
    assert (await PermNote.objects.aget(pk=notes[0].pk)).title == "alice's"
    adder = await _user("adder", "add_permnote")
    comm = await communicator(ArchivingNotes.as_asgi(), user=adder)
    assert (await request(comm, {"action": "archive", "pk": notes[0].pk}))["data"] == "archived"


async def test_declared_methods_are_judged_as_declared(communicator, notes):
    nobody = await _user("nobody")
    comm = await communicator(ArchivingNotes.as_asgi(), user=nobody)
    got = await request(comm, {"action": "count"})
    assert (got["response_status"], got["data"]) == (200, 2)  # GET needs no model permission
    assert (await request(comm, {"action": "purge"}))["response_status"] == 403
    assert await PermNote.objects.acount() == 2
    adder = await _user("adder", "add_permnote")  # a POST permission is not a DELETE one
    comm = await communicator(ArchivingNotes.as_asgi(), user=adder)
    assert (await request(comm, {"action": "purge"}))["response_status"] == 403
    deleter = await _user("deleter", "delete_permnote")
    comm = await communicator(ArchivingNotes.as_asgi(), user=deleter)
    assert (await request(comm, {"action": "purge"}))["response_status"] == 204
    assert await PermNote.objects.acount() == 0


async def test_read_only_drf_permission_lets_declared_reads_through(communicator, notes):
    class ReadOnlyNotes(ArchivingNotes):
        permission_classes = [drf.IsAuthenticatedOrReadOnly]

    comm = await communicator(ReadOnlyNotes.as_asgi(), user=AnonymousUser())
    assert (await request(comm, {"action": "count"}))["response_status"] == 200
    assert (await request(comm, {"action": "archive", "pk": notes[0].pk}))["response_status"] == 403


async def _user(username: str, *codenames: str) -> User:
    from channels.db import database_sync_to_async

    return await database_sync_to_async(make_user)(username, *codenames)


class IsOwner(BasePermission):
    message = "Only the owner may do that."

    def has_object_permission(self, scope, consumer, action, obj, **kwargs):
        return obj.owner_id == getattr(scope.get("user"), "pk", None)


class AsyncIsOwner(BasePermission):
    async def has_object_permission(self, scope, consumer, action, obj, **kwargs):
        return obj.owner_id == getattr(scope.get("user"), "pk", None)


class DrfIsOwner(drf.BasePermission):
    def has_object_permission(self, request, view, obj):
        return obj.owner_id == request.user.pk


@pytest.mark.parametrize("owner_perm", [IsOwner, AsyncIsOwner, DrfIsOwner])
async def test_object_permission_denies_and_sends_nothing(communicator, notes, alice, owner_perm):
    comm = await communicator(note_consumer(owner_perm), user=alice)
    mine, theirs = notes
    assert (await request(comm, {"action": "retrieve", "pk": mine.pk}))["response_status"] == 200
    for message in (
        {"action": "retrieve", "pk": theirs.pk},
        {"action": "update", "pk": theirs.pk, "data": {"title": "hacked"}},
        {"action": "patch", "pk": theirs.pk, "data": {"title": "hacked"}},
        {"action": "delete", "pk": theirs.pk},
    ):
        got = await request(comm, dict(message, request_id=message["action"]))
        assert got["response_status"] == 403, message
        assert got["data"] is None
        assert "admin's" not in str(got)
        assert await comm.receive_nothing(timeout=0.05)
    theirs_now = await PermNote.objects.aget(pk=theirs.pk)
    assert theirs_now.title == "admin's"


async def test_object_permission_message(communicator, notes, alice):
    comm = await communicator(note_consumer(IsOwner), user=alice)
    got = await request(comm, {"action": "retrieve", "pk": notes[1].pk})
    assert got["errors"] == ["Only the owner may do that."]


async def test_or_object_permission_needs_one_operand_allowing_both(communicator, notes, alice):
    # IsOwner | IsAdminUser: alice passes has_permission only through IsOwner
    # (allow-all), whose object check refuses admin's note; IsAdminUser's
    # allow-all object check must not let her in (DRF 3.14+ semantics).
    comm = await communicator(note_consumer(IsOwner | drf.IsAdminUser), user=alice)
    assert (await request(comm, {"action": "retrieve", "pk": notes[1].pk}))[
        "response_status"
    ] == 403
    assert (await request(comm, {"action": "retrieve", "pk": notes[0].pk}))[
        "response_status"
    ] == 200


async def test_or_object_permission_lets_admin_through(communicator, notes, admin):
    comm = await communicator(note_consumer(IsOwner | drf.IsAdminUser), user=admin)
    got = await request(comm, {"action": "retrieve", "pk": notes[0].pk})
    assert got["response_status"] == 200


async def test_negated_object_permission(communicator, notes, alice):
    comm = await communicator(note_consumer(IsAuthenticated & ~AsyncIsOwner), user=alice)
    assert (await request(comm, {"action": "retrieve", "pk": notes[0].pk}))[
        "response_status"
    ] == 403
    assert (await request(comm, {"action": "retrieve", "pk": notes[1].pk}))[
        "response_status"
    ] == 200


async def test_model_and_object_permissions_combined(communicator, notes):
    editor = await _user("editor2", "change_permnote")
    comm = await communicator(note_consumer(drf.DjangoModelPermissions & IsOwner), user=editor)
    got = await request(comm, {"action": "patch", "pk": notes[0].pk, "data": {"title": "x"}})
    assert got["response_status"] == 403  # has change, but not the owner
