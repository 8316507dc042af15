"""Hostile links given as input to hypermedia relation fields.

A link is resolved by the target stream as if the client had sent it: it can
reach nothing the client could not retrieve directly, it never runs the
action it names, and no input makes it raise instead of giving a field error.
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from gateway.testing import GatewayCommunicator
from hypermedia.inbound import ECHO_LIMIT, MALFORMED_MESSAGE
from streams.generics import GenericAsyncAPIConsumer
from streams.mixins import CreateModelMixin, ListModelMixin, RetrieveModelMixin
from streams.permissions import BasePermission
from tests.hypermedia.support import (
    STREAMS,
    BookSerializer,
    Library,
    NoteConsumer,
    NoteSerializer,
    NotesGateway,
    context_for,
    link,
    table,
)
from tests.testapp.models_hypermedia import HyperBook, HyperNote


def book_errors(data: Any, user: Any = None) -> Any:
    serializer = NoteSerializer(
        data={"text": "x", "book": data}, context=context_for(table(), "notes", user=user)
    )
    assert not serializer.is_valid()
    return serializer.errors["book"]


@pytest.mark.django_db
class TestHostileLinks:
    @pytest.fixture(autouse=True)
    def _lib(self) -> None:
        self.lib = Library()
        self.owner = User.objects.create_user("owner")
        self.lib.emma.owner = self.owner
        self.lib.emma.save()

    @pytest.mark.parametrize("key", ["self", "scope", "consumer"])
    def test_reserved_payload_keys(self, key: str) -> None:
        bad = {"stream": "books", "payload": {"action": "retrieve", "pk": 1, key: 1}}
        assert book_errors(bad) == [MALFORMED_MESSAGE]

    @pytest.mark.parametrize(
        "value",
        [{"$gt": 0}, [1, 2], 10**30, -1, "1 OR 1=1", None, 1e309, True, {"a": [[[[[]]]]]}],
    )
    def test_hostile_lookup_values_are_not_found(self, value: Any) -> None:
        assert book_errors(link("books", pk=value)) == ["Not found"]

    def test_extra_payload_keys_cannot_widen_the_streams_queryset(self) -> None:
        # The draft is hidden by the stream; no key in the link uncovers it.
        for extra in ({"published": False}, {"queryset": None}, {"published__in": [False]}):
            assert book_errors(link("books", pk=self.lib.draft.pk, **extra)) == ["Not found"]

    def test_a_link_never_runs_its_action(self) -> None:
        # "update" is offered by the books stream; resolving the link only
        # looks the book up (with update's permissions), it changes nothing.
        title = self.lib.dune.title
        serializer = NoteSerializer(
            data={
                "text": "x",
                "book": link("books", "update", pk=self.lib.dune.pk, data={"title": "pwned"}),
            },
            context=context_for(table(), "notes"),
        )
        assert serializer.is_valid(), serializer.errors
        self.lib.dune.refresh_from_db()
        assert self.lib.dune.title == title

    def test_request_id_in_a_link_is_not_a_lookup(self) -> None:
        serializer = NoteSerializer(
            data={"text": "x", "book": link("books", pk=self.lib.dune.pk, request_id="r")},
            context=context_for(table(), "notes"),
        )
        assert serializer.is_valid(), serializer.errors

    def test_long_names_are_not_echoed_in_full(self) -> None:
        name = "s" * 10_000
        [message] = book_errors(link(name, pk=1))
        assert len(message) < ECHO_LIMIT + 60
        [message] = book_errors(link("books", "a" * 10_000, pk=1))
        assert len(message) < ECHO_LIMIT + 60

    def test_hostile_pk_values_are_not_found(self) -> None:
        # A bare pk is looked up in the field's own queryset, as in DRF.
        for value in (10**30, "x" * 1000, -5, "1; DROP TABLE x"):
            assert book_errors(value) == ["Not found"]


@pytest.fixture
def wire_lib(transactional_db: Any) -> Library:
    lib = Library()
    owner = User.objects.create_user("owner")
    lib.emma.owner = owner
    lib.emma.title = "Private title"
    lib.emma.save()
    return lib


@pytest.mark.django_db(transaction=True)
async def test_forbidden_object_is_not_leaked_in_the_reply(wire_lib: Library) -> None:
    intruder = await sync_to_async(User.objects.create_user)("intruder")
    async with GatewayCommunicator(NotesGateway.as_asgi(), scope={"user": intruder}) as comm:
        await comm.send_to(
            "notes",
            {
                "action": "create",
                "request_id": 1,
                "data": {"text": "x", "book": link("books", pk=wire_lib.emma.pk)},
            },
        )
        reply = await comm.receive_from(stream="notes", request_id=1, timeout=3)
    assert reply["response_status"] == 400
    assert reply["data"] is None
    assert "Private title" not in str(reply)
    assert await sync_to_async(HyperNote.objects.count)() == 0


@pytest.mark.django_db(transaction=True)
async def test_hostile_links_never_break_the_stream(wire_lib: Library) -> None:
    hostile = [
        {"stream": {"nested": "x"}, "payload": {"action": "retrieve"}},
        {"stream": "books", "payload": [1, 2, 3]},
        {"stream": "books", "payload": {"action": ["retrieve"]}},
        {"stream": "notes", "payload": {"action": "create", "data": {"book": 1}}},
        link("books", pk={"deep": [[[[[[[[[[1]]]]]]]]]]}),
        [],
        "",
    ]
    async with GatewayCommunicator(NotesGateway.as_asgi()) as comm:
        for index, book in enumerate(hostile):
            await comm.send_to(
                "notes",
                {"action": "create", "request_id": index, "data": {"text": "x", "book": book}},
            )
            reply = await comm.receive_from(stream="notes", request_id=index, timeout=3)
            assert reply["response_status"] == 400, (book, reply)
            assert list(reply["errors"][0]) == ["book"]
        # The stream still answers.
        await comm.send_to(
            "notes",
            {
                "action": "create",
                "request_id": "ok",
                "data": {"text": "x", "book": link("books", pk=wire_lib.dune.pk)},
            },
        )
        reply = await comm.receive_from(stream="notes", request_id="ok", timeout=3)
        assert reply["response_status"] == 201
    assert await sync_to_async(HyperBook.objects.count)() == 4


class RetrieveOwnerOnly(BasePermission):
    """Only ``retrieve`` is guarded (list/create answer no single object)."""

    message = "Only the owner may read this book."

    def has_object_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, obj: Any, **kwargs: Any
    ) -> bool:
        if action != "retrieve":
            return True
        user = scope.get("user")
        return obj.owner_id is None or (user is not None and obj.owner_id == user.pk)


class ReadGuardedBookConsumer(
    ListModelMixin, RetrieveModelMixin, CreateModelMixin, GenericAsyncAPIConsumer
):
    queryset = HyperBook.objects.all()
    serializer_class = BookSerializer
    permission_classes = [RetrieveOwnerOnly]


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["list", "create"])
def test_another_action_in_a_link_cannot_skip_retrieve_permissions(action: str) -> None:
    # The client may not retrieve Emma; naming a laxer action of the same
    # stream in the link must not resolve her either.
    lib = Library()
    lib.emma.owner = User.objects.create_user("owner")
    lib.emma.save()
    routes = table({**STREAMS, "books": ReadGuardedBookConsumer, "notes": NoteConsumer})
    serializer = NoteSerializer(
        data={"text": "x", "book": link("books", action, pk=lib.emma.pk)},
        context=context_for(routes, "notes"),
    )
    assert not serializer.is_valid()
    assert serializer.errors["book"] == ["Only the owner may read this book."]
    # Unguarded objects still resolve through such links.
    serializer = NoteSerializer(
        data={"text": "x", "book": link("books", action, pk=lib.dune.pk)},
        context=context_for(routes, "notes"),
    )
    assert serializer.is_valid(), serializer.errors
