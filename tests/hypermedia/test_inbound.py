"""hypermedia.inbound: a relation field takes a pk or a link, resolved by the target stream.

Unit tests validate serializers with a hand-built context; the wire tests at
the end send the same input through the gateway and read the 400 replies.
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import AnonymousUser, User
from rest_framework import permissions as drf_permissions

from gateway.testing import GatewayCommunicator
from hypermedia.fields import HyperChannelsApiRelationField
from hypermedia.inbound import MALFORMED_MESSAGE
from hypermedia.serializers import HypermediaModelSerializer
from tests.hypermedia.support import (
    AuthorConsumer,
    BookConsumer,
    KennelSerializer,
    Library,
    NoteSerializer,
    NotesGateway,
    context_for,
    link,
    table,
)
from tests.testapp.models_hypermedia import HyperBook, HyperDog, HyperNote


async def plain_app(scope: Any, receive: Any, send: Any) -> None:
    """A stream that is not a model consumer."""


def note_errors(data: Any, user: Any = None, **table_streams: Any) -> Any:
    routes = table(table_streams or None)
    serializer = NoteSerializer(
        data={"text": "hi", "book": data}, context=context_for(routes, "notes", user=user)
    )
    assert not serializer.is_valid()
    return serializer.errors["book"]


def note_book(data: Any, user: Any = None) -> HyperBook:
    serializer = NoteSerializer(
        data={"text": "hi", "book": data}, context=context_for(table(), "notes", user=user)
    )
    assert serializer.is_valid(), serializer.errors
    book: HyperBook = serializer.validated_data["book"]
    return book


@pytest.mark.django_db
class TestUnit:
    @pytest.fixture(autouse=True)
    def _lib(self) -> None:
        self.lib = Library()
        self.alice = User.objects.create_user("alice")
        self.mallory = User.objects.create_user("mallory")
        self.lib.emma.owner = self.alice
        self.lib.emma.save()

    # ------------------------------------------------------------ valid input
    def test_pk(self) -> None:
        assert note_book(self.lib.dune.pk) == self.lib.dune
        assert note_book(str(self.lib.dune.pk)) == self.lib.dune

    def test_link(self) -> None:
        assert note_book(link("books", pk=self.lib.dune.pk)) == self.lib.dune

    def test_link_exactly_as_emitted(self) -> None:
        emitted = NoteSerializer(
            HyperNote(book=self.lib.dune, text="x", pk=1), context=context_for(table())
        ).data["book"]
        assert note_book(emitted) == self.lib.dune

    def test_link_to_an_object_the_user_may_see(self) -> None:
        assert note_book(link("books", pk=self.lib.emma.pk), user=self.alice) == self.lib.emma

    def test_link_with_the_streams_own_lookup(self) -> None:
        class PublisherRef(HypermediaModelSerializer):
            class Meta:
                model = HyperBook
                fields = ["publisher"]

        serializer = PublisherRef(
            data={"publisher": link("publishers", slug="pen")}, context=context_for(table())
        )
        assert serializer.is_valid(), serializer.errors
        assert serializer.validated_data["publisher"] == self.lib.pen

    def test_null_where_allowed(self) -> None:
        serializer = KennelSerializer(data={"dog": None}, context=context_for(table()))
        assert serializer.is_valid(), serializer.errors
        assert serializer.validated_data["dog"] is None

    def test_many_to_many_takes_pks_and_links(self) -> None:
        class TagRefs(HypermediaModelSerializer):
            class Meta:
                model = HyperBook
                fields = ["title", "tags"]

        serializer = TagRefs(
            data={"title": "x", "tags": [self.lib.sf.pk, link("tags", pk=self.lib.classic.pk)]},
            context=context_for(table()),
        )
        assert serializer.is_valid(), serializer.errors
        assert serializer.validated_data["tags"] == [self.lib.sf, self.lib.classic]

    def test_many_to_many_refuses_a_single_link(self) -> None:
        class TagRefs(HypermediaModelSerializer):
            class Meta:
                model = HyperBook
                fields = ["title", "tags"]

        serializer = TagRefs(
            data={"title": "x", "tags": link("tags", "list", books=1)},
            context=context_for(table()),
        )
        assert not serializer.is_valid()
        assert serializer.errors["tags"] == ['Expected a list of items but got type "dict".']

    def test_multi_table_parent_stream_names_a_child(self) -> None:
        # The dog field takes a link to the animals stream when the animal is a dog.
        serializer = KennelSerializer(
            data={"dog": link("animals", pk=self.lib.rex.pk)}, context=context_for(table())
        )
        assert serializer.is_valid(), serializer.errors
        dog = serializer.validated_data["dog"]
        assert type(dog) is HyperDog and dog.pk == self.lib.rex.pk
        # ...and refuses one to an animal that is no dog.
        serializer = KennelSerializer(
            data={"dog": link("animals", pk=self.lib.tom.pk)}, context=context_for(table())
        )
        assert not serializer.is_valid()
        assert serializer.errors["dog"] == ["Not found"]

    def test_demultiplexer_cls_scope(self) -> None:
        class Demultiplexer:
            applications: dict[str, Any] = {"books": BookConsumer.as_asgi()}

        serializer = NoteSerializer(
            data={"text": "x", "book": link("books", pk=self.lib.dune.pk)},
            context={"scope": {"demultiplexer_cls": Demultiplexer}},
        )
        assert serializer.is_valid(), serializer.errors
        assert serializer.validated_data["book"] == self.lib.dune

    # ----------------------------------------------------------------- errors
    def test_unknown_stream(self) -> None:
        assert note_errors(link("novels", pk=1)) == [
            "Stream 'novels' is not served on this connection."
        ]

    def test_action_not_offered(self) -> None:
        assert note_errors(link("publishers", "list", slug="pen")) == [
            "Stream 'publishers' does not offer the action 'list'."
        ]
        assert note_errors(link("books", "get_queryset", pk=1)) == [
            "Stream 'books' does not offer the action 'get_queryset'."
        ]

    def test_not_a_model_consumer(self) -> None:
        errors = note_errors(link("raw", pk=1), books=BookConsumer, raw=plain_app)
        assert errors == ["Stream 'raw' cannot resolve links: it is not a model consumer."]

    def test_not_found(self) -> None:
        assert note_errors(link("books", pk=10**6)) == ["Not found"]
        assert note_errors(10**6) == ["Not found"]
        assert note_errors("abc") == ["Not found"]

    def test_hidden_by_the_streams_queryset_is_not_found(self) -> None:
        # The draft exists, but the books stream does not show it.
        assert note_errors(link("books", pk=self.lib.draft.pk)) == ["Not found"]

    def test_object_permission_of_the_target_stream(self) -> None:
        errors = note_errors(link("books", pk=self.lib.emma.pk), user=self.mallory)
        assert errors == ["Only the owner may see this book."]
        errors = note_errors(link("books", pk=self.lib.emma.pk), user=AnonymousUser())
        assert errors == ["Only the owner may see this book."]

    def test_stream_permission_of_the_target_stream(self) -> None:
        assert note_errors(link("secret_books", pk=self.lib.dune.pk)) == [
            "This stream is closed to you."
        ]

    def test_missing_lookup(self) -> None:
        assert note_errors(link("books")) == ["pk: This field is required."]

    def test_wrong_model(self) -> None:
        assert note_errors(link("authors", pk=self.lib.ann.pk)) == [
            "Stream 'authors' serves HyperAuthor, not HyperBook."
        ]

    def test_field_queryset_still_applies(self) -> None:
        class OnlyEmma(HypermediaModelSerializer):
            book = HyperChannelsApiRelationField(queryset=HyperBook.objects.filter(title="Emma"))

            class Meta:
                model = HyperNote
                fields = ["book"]

        ctx = context_for(table(), user=self.alice)
        serializer = OnlyEmma(data={"book": link("books", pk=self.lib.dune.pk)}, context=ctx)
        assert not serializer.is_valid()
        assert serializer.errors["book"] == ["Not found"]
        serializer = OnlyEmma(data={"book": link("books", pk=self.lib.emma.pk)}, context=ctx)
        assert serializer.is_valid(), serializer.errors

    @pytest.mark.parametrize(
        "bad",
        [
            True,
            1.5,
            [1],
            {"stream": "books"},
            {"payload": {"action": "retrieve", "pk": 1}},
            {"stream": "books", "payload": "retrieve"},
            {"stream": "books", "payload": {"pk": 1}},
            {"stream": "books", "payload": {"action": 3, "pk": 1}},
            {"stream": 3, "payload": {"action": "retrieve", "pk": 1}},
            {"stream": "", "payload": {"action": "retrieve", "pk": 1}},
            {"stream": "books", "payload": {"action": "retrieve", "pk": 1}, "extra": 1},
        ],
    )
    def test_malformed(self, bad: Any) -> None:
        assert note_errors(bad) == [MALFORMED_MESSAGE]

    def test_pk_input_needs_no_route_table(self) -> None:
        serializer = NoteSerializer(data={"text": "x", "book": self.lib.dune.pk})
        assert serializer.is_valid(), serializer.errors


# ------------------------------------------------------------------------ wire


async def request(comm: GatewayCommunicator, stream: str, payload: dict[str, Any]) -> Any:
    request_id = f"r-{id(payload)}"
    await comm.send_to(stream, {**payload, "request_id": request_id})
    return await comm.receive_from(stream=stream, request_id=request_id, timeout=3)


@pytest.fixture
def wire_lib(transactional_db: Any) -> Library:
    lib = Library()
    owner = User.objects.create_user("owner")
    lib.emma.owner = owner
    lib.emma.save()
    return lib


@pytest.mark.django_db(transaction=True)
async def test_create_with_a_link_over_the_wire(wire_lib: Library) -> None:
    async with GatewayCommunicator(NotesGateway.as_asgi()) as comm:
        reply = await request(
            comm,
            "notes",
            {
                "action": "create",
                "data": {"text": "good", "book": link("books", pk=wire_lib.dune.pk)},
            },
        )
        assert reply["response_status"] == 201, reply
        assert reply["data"]["book"] == link("books", pk=wire_lib.dune.pk)
        note = await sync_to_async(HyperNote.objects.get)(pk=reply["data"]["@id"]["payload"]["pk"])
        assert note.book_id == wire_lib.dune.pk


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("book", "message"),
    [
        (link("novels", pk=1), "Stream 'novels' is not served on this connection."),
        (link("publishers", "list"), "Stream 'publishers' does not offer the action 'list'."),
        (link("books", pk=999999), "Not found"),
        ("owned-by-someone-else", "Only the owner may see this book."),
        ({"stream": "books"}, MALFORMED_MESSAGE),
    ],
)
async def test_link_errors_are_400_field_errors(wire_lib: Library, book: Any, message: str) -> None:
    if book == "owned-by-someone-else":
        book = link("books", pk=wire_lib.emma.pk)
    async with GatewayCommunicator(NotesGateway.as_asgi()) as comm:
        reply = await request(
            comm, "notes", {"action": "create", "data": {"text": "bad", "book": book}}
        )
    assert reply["response_status"] == 400, reply
    assert reply["errors"] == [{"book": [message]}]
    assert await sync_to_async(HyperNote.objects.count)() == 0


@pytest.mark.django_db(transaction=True)
async def test_as_asgi_and_class_mounts_resolve_links_alike(wire_lib: Library) -> None:
    class Mixed(NotesGateway):
        streams = {
            **NotesGateway.streams,
            "authors": AuthorConsumer.as_asgi(),
            "books": BookConsumer.as_asgi(),
        }

    async with GatewayCommunicator(Mixed.as_asgi()) as comm:
        reply = await request(
            comm,
            "notes",
            {"action": "create", "data": {"text": "x", "book": link("books", pk=wire_lib.dune.pk)}},
        )
        assert reply["response_status"] == 201, reply
        reply = await request(
            comm,
            "notes",
            {"action": "create", "data": {"text": "x", "book": link("books", pk=wire_lib.emma.pk)}},
        )
        assert reply["errors"] == [{"book": ["Only the owner may see this book."]}]


# ------------------------------------------ links checked inside the atomic create
class MembersOnlyBooks(BookConsumer):
    """Books behind a plain DRF permission, checked when a link names one."""

    permission_classes = [drf_permissions.IsAuthenticated]


class MembersGateway(NotesGateway):
    streams = {**NotesGateway.streams, "books": MembersOnlyBooks}


@pytest.mark.django_db(transaction=True)
async def test_a_link_to_a_drf_guarded_stream_resolves_inside_the_atomic_create(
    connection_lifetime: Any, wire_lib: Library
) -> None:
    """The target stream's permissions run while ``create`` holds its transaction
    open; on PostgreSQL that used to close the transaction's connection (503)."""
    member = await sync_to_async(User.objects.create_user)("member")
    async with GatewayCommunicator(MembersGateway.as_asgi(), scope={"user": member}) as comm:
        for text in ("first", "second"):
            reply = await request(
                comm,
                "notes",
                {
                    "action": "create",
                    "data": {"text": text, "book": link("books", pk=wire_lib.dune.pk)},
                },
            )
            assert reply["response_status"] == 201, reply
    async with GatewayCommunicator(
        MembersGateway.as_asgi(), scope={"user": AnonymousUser()}
    ) as comm:
        reply = await request(
            comm,
            "notes",
            {"action": "create", "data": {"text": "x", "book": link("books", pk=wire_lib.dune.pk)}},
        )
        assert reply["response_status"] == 400, reply
    texts = await sync_to_async(lambda: sorted(HyperNote.objects.values_list("text", flat=True)))()
    assert texts == ["first", "second"]
