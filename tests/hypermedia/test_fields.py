"""hypermedia.fields: every link kind, overrides, null links, query counts.

Serializers get the context a consumer would give them (``context_for``), so
no socket is needed; the wire is covered by test_browsing and test_inbound.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from hypermedia import resolver as resolver_module
from hypermedia.fields import (
    HyperChannelsApiManyRelationField,
    HyperChannelsApiRelationField,
    HyperlinkedIdentityField,
)
from hypermedia.serializers import HypermediaModelSerializer
from tests.hypermedia.support import (
    AnimalConsumer,
    AuthorConsumer,
    AuthorSerializer,
    BookConsumer,
    BookSerializer,
    DogConsumer,
    KennelSerializer,
    Library,
    ProfileSerializer,
    PublisherConsumer,
    TagSerializer,
    context_for,
    link,
    table,
)
from tests.testapp.models_hypermedia import (
    HyperAuthor,
    HyperBook,
    HyperKennel,
)

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------ link kinds


def test_identity_link(lib: Library, ctx: dict[str, Any]) -> None:
    assert BookSerializer(lib.dune, context=ctx).data["@id"] == link("books", pk=lib.dune.pk)


def test_forward_foreign_key_is_a_retrieve_link(lib: Library, ctx: dict[str, Any]) -> None:
    data = BookSerializer(lib.dune, context=ctx).data
    assert data["author"] == link("authors", pk=lib.ann.pk)


def test_forward_one_to_one(lib: Library, ctx: dict[str, Any]) -> None:
    data = ProfileSerializer(lib.profile, context=ctx).data
    assert data["author"] == link("authors", pk=lib.ann.pk)


def test_reverse_one_to_one(lib: Library, ctx: dict[str, Any]) -> None:
    data = AuthorSerializer(lib.ann, context=ctx).data
    assert data["profile"] == link("profiles", pk=lib.profile.pk)


def test_reverse_foreign_key_is_a_filtered_list_link(lib: Library, ctx: dict[str, Any]) -> None:
    data = AuthorSerializer(lib.ann, context=ctx).data
    assert data["books"] == link("books", "list", author=lib.ann.pk)


def test_many_to_many_forward_side(lib: Library, ctx: dict[str, Any]) -> None:
    data = BookSerializer(lib.dune, context=ctx).data
    # The tags stream lists tags whose "books" include this one.
    assert data["tags"] == link("tags", "list", books=lib.dune.pk)


def test_many_to_many_reverse_side(lib: Library, ctx: dict[str, Any]) -> None:
    data = TagSerializer(lib.sf, context=ctx).data
    assert data["books"] == link("books", "list", tags=lib.sf.pk)


def test_foreign_key_with_to_field_uses_the_streams_lookup(
    lib: Library, ctx: dict[str, Any]
) -> None:
    # The publishers stream looks up by slug, which the key column holds.
    data = BookSerializer(lib.dune, context=ctx).data
    assert data["publisher"] == link("publishers", slug="pen")


def test_nested_source_links_the_related_object(lib: Library, ctx: dict[str, Any]) -> None:
    class BookWithProfile(HypermediaModelSerializer):
        author_profile = HyperChannelsApiRelationField(source="author.profile", read_only=True)

        class Meta:
            model = HyperBook
            fields = ["author_profile"]

    data = BookWithProfile(lib.dune, context=ctx).data
    assert data["author_profile"] == link("profiles", pk=lib.profile.pk)


def test_fields_all_has_identity_instead_of_pk(lib: Library, ctx: dict[str, Any]) -> None:
    class AllBook(HypermediaModelSerializer):
        class Meta:
            model = HyperBook
            fields = "__all__"

    data = AllBook(lib.dune, context=ctx).data
    assert "id" not in data
    assert list(data)[:2] == ["@id", "title"]
    assert data["tags"] == link("tags", "list", books=lib.dune.pk)
    assert data["owner"] is None


# ------------------------------------------------------------------ null links


def test_empty_foreign_key_is_null(ctx: dict[str, Any]) -> None:
    orphan = HyperBook.objects.create(title="Orphan")
    data = BookSerializer(orphan, context=ctx).data
    assert data["author"] is None and data["publisher"] is None


def test_model_without_stream_gives_null_links(lib: Library) -> None:
    only_books = context_for(table({"books": BookConsumer}))
    data = BookSerializer(lib.dune, context=only_books).data
    assert data["@id"] == link("books", pk=lib.dune.pk)
    assert data["author"] is None
    assert data["tags"] is None
    assert data["publisher"] is None
    assert data["notes"] is None  # HyperNote has no stream anywhere


def test_unsaved_instance_has_no_links(ctx: dict[str, Any]) -> None:
    data = AuthorSerializer(HyperAuthor(name="new"), context=ctx).data
    assert data["@id"] is None and data["books"] is None


def test_outside_a_gateway_is_a_clear_error(lib: Library) -> None:
    for context in ({}, {"scope": {"type": "websocket"}}):
        with pytest.raises(ImproperlyConfigured) as info:
            BookSerializer(lib.dune, context=context).data  # noqa: B018
        assert "BookSerializer.@id" in str(info.value)
        assert "scope" in str(info.value) and "gateway.Gateway" in str(info.value)


# ------------------------------------------------------------------- overrides


def test_field_options_override_stream_action_and_lookups(
    lib: Library, ctx: dict[str, Any]
) -> None:
    class Custom(HypermediaModelSerializer):
        writer = HyperChannelsApiRelationField(
            source="author",
            read_only=True,
            stream_name="books",
            action_name="by_author",
            kwarg_mappings={"author_pk": "pk", "book": "self.pk", "name": "name"},
        )

        class Meta:
            model = HyperBook
            fields = ["writer"]

    data = Custom(lib.dune, context=ctx).data
    assert data["writer"] == link(
        "books", "by_author", author_pk=lib.ann.pk, book=lib.dune.pk, name="Ann"
    )


def test_dotted_self_paths(lib: Library, ctx: dict[str, Any]) -> None:
    class Custom(HypermediaModelSerializer):
        class Meta:
            model = HyperBook
            fields = ["tags"]
            extra_kwargs = {
                "tags": {"kwarg_mappings": {"author_name": "self.author.name", "book": "pk"}}
            }

    data = Custom(lib.dune, context=ctx).data
    # Many links read every path from the book, "self." or not.
    assert data["tags"] == link("tags", "list", author_name="Ann", book=lib.dune.pk)


def test_extra_kwargs_reach_identity_and_relations(lib: Library, ctx: dict[str, Any]) -> None:
    class Custom(HypermediaModelSerializer):
        class Meta:
            model = HyperBook
            fields = ["@id", "author"]
            extra_kwargs = {
                "@id": {"action_name": "subscribe_instance"},
                "author": {"stream_name": "animals", "kwarg_mappings": {"keeper": "pk"}},
            }

    data = Custom(lib.dune, context=ctx).data
    assert data["@id"] == link("books", "subscribe_instance", pk=lib.dune.pk)
    assert data["author"] == link("animals", keeper=lib.ann.pk)


def test_unknown_explicit_stream_is_null_and_warned_once(
    lib: Library, caplog: pytest.LogCaptureFixture
) -> None:
    resolver_module.clear_cache()

    class Custom(HypermediaModelSerializer):
        class Meta:
            model = HyperBook
            fields = ["author"]
            extra_kwargs = {"author": {"stream_name": "writers"}}

    ctx = context_for(table())
    with caplog.at_level(logging.WARNING, logger="hypermedia.resolver"):
        first = Custom(lib.dune, context=ctx).data
        second = Custom(lib.emma, context=ctx).data
    assert first["author"] is None and second["author"] is None
    warnings = [r for r in caplog.records if "writers" in r.getMessage()]
    assert len(warnings) == 1 and "Custom.author" in warnings[0].getMessage()


def test_list_link_to_a_stream_that_cannot_filter_is_warned(
    lib: Library, caplog: pytest.LogCaptureFixture
) -> None:
    resolver_module.clear_cache()
    ctx = context_for(table())
    with caplog.at_level(logging.WARNING, logger="hypermedia.resolver"):
        data = AuthorSerializer(lib.ann, context=ctx).data
    # AnimalConsumer declares no filterset_fields: following the link would
    # list every animal, so the server log says what to fix.
    assert data["animals"] == link("animals", "list", keeper=lib.ann.pk)
    messages = [r.getMessage() for r in caplog.records]
    assert any("'keeper'" in m and "filterset_fields" in m for m in messages)
    assert not any("'author'" in m for m in messages)  # BookConsumer filters on author


def test_many_field_without_a_derivable_filter_needs_mappings(
    lib: Library, ctx: dict[str, Any]
) -> None:
    class Custom(HypermediaModelSerializer):
        recent = HyperChannelsApiRelationField(many=True, read_only=True, source="books.all")

        class Meta:
            model = HyperAuthor
            fields = ["recent"]

    with pytest.raises(ImproperlyConfigured, match="kwarg_mappings"):
        Custom(lib.ann, context=ctx).data  # noqa: B018

    class Fixed(HypermediaModelSerializer):
        recent = HyperChannelsApiRelationField(
            many=True, read_only=True, source="books.all", kwarg_mappings={"author": "pk"}
        )

        class Meta:
            model = HyperAuthor
            fields = ["recent"]

    assert Fixed(lib.ann, context=ctx).data["recent"] == link("books", "list", author=lib.ann.pk)


def test_many_init_passes_link_options_on(ctx: dict[str, Any]) -> None:
    field = HyperChannelsApiRelationField(
        many=True, read_only=True, stream_name="tags", action_name="search"
    )
    assert isinstance(field, HyperChannelsApiManyRelationField)
    assert (field.stream_name, field.action_name) == ("tags", "search")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kwarg_mappings": ["pk"]}, "kwarg_mappings"),
        ({"kwarg_mappings": {"pk": ""}}, "kwarg_mappings"),
        ({"kwarg_mappings": {"pk": 3}}, "kwarg_mappings"),
        ({"action_name": ""}, "action_name"),
        ({"stream_name": 5}, "stream_name"),
    ],
)
def test_bad_options_are_refused_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        HyperChannelsApiRelationField(read_only=True, **kwargs)


def test_self_path_without_parent_is_a_clear_error(lib: Library, ctx: dict[str, Any]) -> None:
    class Listed(HypermediaModelSerializer):
        class Meta:
            model = HyperBook
            fields = ["@id"]
            many_kwarg_mappings = {"pk": "self.pk"}

    with pytest.raises(ImproperlyConfigured, match="self"):
        Listed([lib.dune], many=True, context=ctx).data  # noqa: B018


def test_identity_field_is_read_only() -> None:
    field = HyperlinkedIdentityField()
    assert field.read_only and field.source == "*"


# ------------------------------------------------------------------ inheritance


def test_inheritance_links_resolve_to_nearest_stream(lib: Library) -> None:
    kennel = HyperKennel.objects.create(resident=lib.pip, dog=lib.pip)
    # Dog and Animal streams: the FK to Animal links to animals, the FK to Dog
    # to dogs; the puppy's own @id would go to dogs (nearest parent).
    ctx = context_for(table({"animals": AnimalConsumer, "dogs": DogConsumer}))
    data = KennelSerializer(kennel, context=ctx).data
    assert data["resident"] == link("animals", pk=lib.pip.pk)
    assert data["dog"] == link("dogs", pk=lib.pip.pk)
    only_animals = context_for(table({"animals": AnimalConsumer}))
    assert KennelSerializer(kennel, context=only_animals).data["dog"] == link(
        "animals", pk=lib.pip.pk
    )


def test_instance_type_decides_for_loaded_objects(lib: Library) -> None:
    class AnyAnimal(HypermediaModelSerializer):
        class Meta:
            model = HyperKennel
            fields = ["resident"]
            extra_kwargs = {"resident": {"kwarg_mappings": {"pk": "pk", "name": "name"}}}

    kennel = HyperKennel.objects.create(resident=lib.tom)
    ctx = context_for(table({"animals": AnimalConsumer, "dogs": DogConsumer}))
    # "name" is not the key column, so the animal is loaded; it is an Animal.
    assert AnyAnimal(kennel, context=ctx).data["resident"] == link(
        "animals", pk=lib.tom.pk, name="Tom"
    )


# --------------------------------------------------------------- query counts


def test_forward_links_need_no_query(
    lib: Library, ctx: dict[str, Any], django_assert_num_queries: Any
) -> None:
    book = HyperBook.objects.get(pk=lib.dune.pk)
    with django_assert_num_queries(0):
        data = BookSerializer(book, context=ctx).data
    assert data["publisher"] == link("publishers", slug="pen")


def test_list_of_objects_adds_no_query_per_object(
    lib: Library, ctx: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    for index in range(20):
        book = HyperBook.objects.create(title=f"b{index}", author=lib.bob, publisher=lib.pen)
        book.tags.add(lib.sf)

    class PlainBook(serializers.ModelSerializer):  # type: ignore[type-arg]
        class Meta:
            model = HyperBook
            fields = ["id", "title", "author", "tags", "publisher"]

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as plain:
        [PlainBook(b).data for b in HyperBook.objects.all()]
    # The plain serializer loads each book's tags and (for to_field) publisher.
    assert len(plain.captured_queries) > 24
    # One query for the books, none per book.
    with django_assert_max_num_queries(1):
        rows = [BookSerializer(b, context=ctx).data for b in HyperBook.objects.all()]
    last = rows[-1]
    assert last["tags"] == link("tags", "list", books=last["@id"]["payload"]["pk"])
    assert last["author"] == link("authors", pk=lib.bob.pk)
    assert last["publisher"] == link("publishers", slug="pen")
    with django_assert_max_num_queries(1):
        links = BookSerializer(HyperBook.objects.all(), many=True, context=ctx).data
    assert len(rows) == len(links) == 24


def test_authors_cost_what_a_model_serializer_costs(
    lib: Library, ctx: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for index in range(10):
        HyperAuthor.objects.create(name=f"a{index}")

    class PlainAuthor(serializers.ModelSerializer):  # type: ignore[type-arg]
        class Meta:
            model = HyperAuthor
            fields = ["id", "name", "books", "profile", "animals"]

    with CaptureQueriesContext(connection) as plain:
        [PlainAuthor(a).data for a in HyperAuthor.objects.all()]
    # Reverse one-to-one costs a query per author either way; the to-many
    # links cost none (the plain serializer loads every related list).
    with django_assert_max_num_queries(len(plain.captured_queries)):
        rows = [AuthorSerializer(a, context=ctx).data for a in HyperAuthor.objects.all()]
    assert len(rows) == 12
    with django_assert_max_num_queries(1):
        prefetched = HyperAuthor.objects.select_related("profile")
        [AuthorSerializer(a, context=ctx).data for a in prefetched]


def test_route_table_is_resolved_once_per_serialization(
    lib: Library, ctx: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    original = resolver_module.resolver_for_scope

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr("hypermedia.fields.resolver_for_scope", counting)
    BookSerializer(HyperBook.objects.all(), many=True, context=ctx).data  # noqa: B018
    assert len(calls) == 1
    calls.clear()
    [BookSerializer(b, context=ctx).data for b in HyperBook.objects.all()]
    # One per serializer, not one per field per object.
    assert len(calls) == HyperBook.objects.count() == 4


def test_class_and_as_asgi_mounts_give_the_same_links(lib: Library) -> None:
    as_class = context_for(table({"authors": AuthorConsumer, "books": BookConsumer}))
    as_app = context_for(
        table({"authors": AuthorConsumer.as_asgi(), "books": BookConsumer.as_asgi()})
    )
    assert (
        BookSerializer(lib.dune, context=as_class).data
        == BookSerializer(lib.dune, context=as_app).data
    )


def test_publisher_lookup_by_slug_identity(lib: Library) -> None:
    class PublisherOnly(HypermediaModelSerializer):
        class Meta:
            model = type(lib.pen)
            fields = ["@id"]

    ctx = context_for(table({"publishers": PublisherConsumer}))
    assert PublisherOnly(lib.pen, context=ctx).data["@id"] == link("publishers", slug="pen")


def test_empty_kwarg_mappings_mean_no_lookups(lib: Library, ctx: dict[str, Any]) -> None:
    class Everything(HypermediaModelSerializer):
        class Meta:
            model = HyperAuthor
            fields = ["books"]
            extra_kwargs = {"books": {"kwarg_mappings": {}}}

    assert Everything(lib.ann, context=ctx).data["books"] == link("books", "list")
