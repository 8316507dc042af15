"""hypermedia.serializers: the model serializer, many=True lists, compat names."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from hypermedia.serializers import (
    HyperChannelsApiListSerializer,
    HyperChannelsApiModelSerializer,
    HyperlinkedIdentityField,
    HypermediaListSerializer,
    HypermediaModelSerializer,
)
from tests.hypermedia.support import (
    AuthorConsumer,
    BookSerializer,
    Library,
    TagConsumer,
    context_for,
    link,
    table,
)
from tests.testapp.models_hypermedia import HyperAuthor, HyperBook, HyperPuppy

pytestmark = pytest.mark.django_db


def test_hypermediachannels_names_are_the_same_classes() -> None:
    assert HyperChannelsApiModelSerializer is HypermediaModelSerializer
    assert HyperChannelsApiListSerializer is HypermediaListSerializer
    assert HypermediaModelSerializer.serializer_url_field is HyperlinkedIdentityField
    assert HypermediaModelSerializer.url_field_name == "@id"


def test_many_gives_a_list_of_links(lib: Library, ctx: dict[str, Any]) -> None:
    data = BookSerializer(HyperBook.objects.filter(author=lib.ann), many=True, context=ctx).data
    assert data == [link("books", pk=lib.dune.pk), link("books", pk=lib.emma.pk)]


def test_many_options_from_meta(lib: Library, ctx: dict[str, Any]) -> None:
    class ActiveAuthors(HypermediaModelSerializer):
        class Meta:
            model = HyperAuthor
            fields = ["@id", "name"]
            many_stream_name = "books"
            many_action_name = "list"
            many_kwarg_mappings = {"author": "pk", "name": "name"}

    data = ActiveAuthors([lib.ann, lib.bob], many=True, context=ctx).data
    assert data == [
        link("books", "list", author=lib.ann.pk, name="Ann"),
        link("books", "list", author=lib.bob.pk, name="Bob"),
    ]
    # A single object still serializes in full.
    assert ActiveAuthors(lib.ann, context=ctx).data["name"] == "Ann"


def test_many_items_resolve_by_their_own_type(lib: Library) -> None:
    class AnimalLinks(HypermediaModelSerializer):
        class Meta:
            model = HyperPuppy
            fields = ["@id"]

    from tests.hypermedia.support import AnimalConsumer, DogConsumer

    ctx = context_for(table({"animals": AnimalConsumer, "dogs": DogConsumer}))
    data = AnimalLinks([lib.tom, lib.rex, lib.pip], many=True, context=ctx).data
    assert [item["stream"] for item in data] == ["animals", "dogs", "dogs"]


def test_many_without_stream_gives_nulls(lib: Library) -> None:
    ctx = context_for(table({"authors": AuthorConsumer}))
    data = BookSerializer([lib.dune, lib.emma], many=True, context=ctx).data
    assert data == [None, None]


def test_many_outside_a_gateway_is_a_clear_error(lib: Library) -> None:
    with pytest.raises(ImproperlyConfigured, match="BookSerializer"):
        BookSerializer([lib.dune], many=True, context={}).data  # noqa: B018


def test_nested_many_serializer_links_each_object(lib: Library, ctx: dict[str, Any]) -> None:
    class AuthorWithShelf(HypermediaModelSerializer):
        shelf = BookSerializer(many=True, read_only=True, source="books")

        class Meta:
            model = HyperAuthor
            fields = ["@id", "shelf"]

    data = AuthorWithShelf(lib.ann, context=ctx).data
    assert data["shelf"] == [link("books", pk=lib.dune.pk), link("books", pk=lib.emma.pk)]


def test_nested_many_self_paths_read_the_enclosing_object(
    lib: Library, ctx: dict[str, Any]
) -> None:
    class ShelfBook(HypermediaModelSerializer):
        class Meta:
            model = HyperBook
            fields = ["@id"]
            many_kwarg_mappings = {"pk": "pk", "shelf_of": "self.name"}

    class AuthorWithShelf(HypermediaModelSerializer):
        shelf = ShelfBook(many=True, read_only=True, source="books")

        class Meta:
            model = HyperAuthor
            fields = ["shelf"]

    rows = [AuthorWithShelf(a, context=ctx).data for a in (lib.ann, lib.bob)]
    assert rows[0]["shelf"][0] == link("books", pk=lib.dune.pk, shelf_of="Ann")
    assert rows[1]["shelf"][0] == link("books", pk=lib.ulysses.pk, shelf_of="Bob")


def test_list_serializer_class_in_meta_is_respected(lib: Library, ctx: dict[str, Any]) -> None:
    class FullList(HypermediaModelSerializer):
        class Meta:
            model = HyperAuthor
            fields = ["@id", "name"]
            list_serializer_class = serializers.ListSerializer

    data = FullList([lib.ann], many=True, context=ctx).data
    assert data == [{"@id": link("authors", pk=lib.ann.pk), "name": "Ann"}]


def test_many_keeps_list_keywords(lib: Library, ctx: dict[str, Any]) -> None:
    serializer = BookSerializer(HyperBook.objects.none(), many=True, allow_empty=False, context=ctx)
    assert isinstance(serializer, HypermediaListSerializer)
    assert serializer.allow_empty is False and serializer.child.context is ctx


def test_depth_nests_hypermedia_objects(lib: Library, ctx: dict[str, Any]) -> None:
    class DeepBook(HypermediaModelSerializer):
        class Meta:
            model = HyperBook
            fields = ["@id", "author", "tags"]
            depth = 1

    data = DeepBook(lib.dune, context=ctx).data
    assert data["author"]["@id"] == link("authors", pk=lib.ann.pk)
    assert data["author"]["name"] == "Ann"
    assert data["tags"] == [link("tags", pk=lib.sf.pk), link("tags", pk=lib.classic.pk)]


class Demultiplexer:
    """A hypermediachannels-era demultiplexer class: only its table matters."""

    applications: dict[str, Any] = {
        "authors": AuthorConsumer,
        "tags": TagConsumer.as_asgi(),
    }


def test_demultiplexer_cls_scope_works_as_in_hypermediachannels(lib: Library) -> None:
    ctx = {"scope": {"demultiplexer_cls": Demultiplexer}}
    data = BookSerializer(lib.dune, context=ctx).data
    assert data["@id"] is None  # no books stream in that table
    assert data["author"] == link("authors", pk=lib.ann.pk)
    assert data["tags"] == link("tags", "list", books=lib.dune.pk)


def test_writes_go_through_model_serializer(lib: Library, ctx: dict[str, Any]) -> None:
    serializer = BookSerializer(
        data={"title": "New", "author": lib.bob.pk, "tags": [lib.sf.pk]}, context=ctx
    )
    assert serializer.is_valid(), serializer.errors
    book = serializer.save()
    assert book.author == lib.bob and list(book.tags.all()) == [lib.sf]
    assert serializer.data["@id"] == link("books", pk=book.pk)


@pytest.mark.django_db(transaction=True)
async def test_consumer_under_a_demultiplexer_scope_over_the_wire(
    communicator: Any, transactional_db: Any
) -> None:
    """A stream served standalone with hypermediachannels' scope key still links."""
    from asgiref.sync import sync_to_async

    from tests.hypermedia.support import BookConsumer

    lib = await sync_to_async(Library)()

    class Demux:
        applications: dict[str, Any] = {
            "books": BookConsumer,
            "authors": AuthorConsumer.as_asgi(),
        }

    comm = await communicator(BookConsumer.as_asgi(), demultiplexer_cls=Demux)
    await comm.send_json_to({"action": "retrieve", "pk": lib.dune.pk, "request_id": 1})
    reply = await comm.receive_json_from(timeout=3)
    assert reply["response_status"] == 200, reply
    assert reply["data"]["@id"] == link("books", pk=lib.dune.pk)
    assert reply["data"]["author"] == link("authors", pk=lib.ann.pk)
    assert reply["data"]["tags"] is None  # no tags stream in that table
