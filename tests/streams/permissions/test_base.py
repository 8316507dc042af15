"""The permission algebra over a websocket: ``&``, ``|``, ``~`` on classes and instances,
sync/async/DRF operands, connect verdicts, messages, object permissions, resolution."""

from __future__ import annotations

from collections.abc import Callable
from itertools import product
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from rest_framework import permissions as drf

from streams.permissions import (
    AND,
    NOT,
    OR,
    BasePermission,
    IsAuthenticated,
    WrappedDRFPermission,
    get_permission_instances,
)
from tests.conftest import request
from tests.streams.permissions.support import (
    TokenHeader,
    consumer_for,
    make_perm,
    note_consumer,
    status_of,
    user_with,
)
from tests.streams.support import FORBIDDEN
from tests.testapp.models_permissions import PermNote

# DRF permissions run in the database thread, whose connection housekeeping
# needs database access; sync actions need committed data (see support.py).
pytestmark = pytest.mark.django_db(transaction=True)


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


def test_drf_entries_are_wrapped():
    built = get_permission_instances(
        [drf.IsAdminUser, drf.IsAuthenticated(), drf.IsAuthenticated & drf.IsAdminUser]
    )
    assert isinstance(built[0], WrappedDRFPermission)
    assert isinstance(built[1], WrappedDRFPermission)
    assert isinstance(built[2], AND)
    assert isinstance(built[2].op1, WrappedDRFPermission)


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
    editor = await user_with("editor2", "change_permnote")
    comm = await communicator(note_consumer(drf.DjangoModelPermissions & IsOwner), user=editor)
    got = await request(comm, {"action": "patch", "pk": notes[0].pk, "data": {"title": "x"}})
    assert got["response_status"] == 403  # has change, but not the owner
