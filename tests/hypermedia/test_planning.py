"""hypermedia.planning: planned link fields give exactly the per-object path's output.

Every serializer is represented twice, through ``streams.fastpath.represent``
(the plan, with the link fields' steps) and through DRF's own
``to_representation``, and the two must match key for key, in order.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from hypermedia import resolver as resolver_module
from hypermedia.fields import HyperChannelsApiRelationField, HyperlinkedIdentityField
from hypermedia.resolver import NoRouteTableError
from hypermedia.serializers import HypermediaModelSerializer
from streams.fastpath import plan_for, represent
from tests.hypermedia.support import (
    AnimalSerializer,
    AuthorSerializer,
    BookSerializer,
    DogSerializer,
    KennelSerializer,
    Library,
    NoteSerializer,
    ProfileSerializer,
    PublisherSerializer,
    TagSerializer,
    context_for,
    link,
    table,
)
from tests.testapp.models_hypermedia import (
    HyperAnimal,
    HyperAuthor,
    HyperBook,
    HyperDog,
    HyperKennel,
    HyperNote,
    HyperProfile,
    HyperPublisher,
    HyperTag,
)

pytestmark = pytest.mark.django_db


def both(serializer: Any, instance: Any) -> tuple[list[Any], list[Any]]:
    return (
        list(represent(serializer, instance).items()),
        list(serializer.to_representation(instance).items()),
    )


def planned_fields(serializer: Any) -> set[str]:
    """Names of the fields whose step came from ``plan_step``."""
    plan = plan_for(serializer)
    assert plan is not None
    return {
        field.field_name
        for field in serializer._readable_fields
        if callable(getattr(field, "plan_step", None)) and field.plan_step(plan.model) is not None
    }


class AuthorLinks(HypermediaModelSerializer):
    """Lookups read from the object (``self.``) and from the key, a chosen stream."""

    class Meta:
        model = HyperBook
        fields = ["@id", "title", "author"]
        extra_kwargs = {
            "@id": {"kwarg_mappings": {"pk": "pk", "titled": "self.title"}},
            "author": {
                "stream_name": "authors",
                "action_name": "subscribe_instance",
                "kwarg_mappings": {"pk": "pk", "of_book": "self.pk", "action": "self.title"},
            },
        }


class ByTitle(HypermediaModelSerializer):
    """An identity link through a non-pk path."""

    class Meta:
        model = HyperBook
        fields = ["@id", "author"]
        extra_kwargs = {"@id": {"kwarg_mappings": {"title": "title", "who": "author__name"}}}


SERIALIZERS = [
    (BookSerializer, HyperBook),
    (AuthorSerializer, HyperAuthor),
    (TagSerializer, HyperTag),
    (ProfileSerializer, HyperProfile),
    (PublisherSerializer, HyperPublisher),
    (AnimalSerializer, HyperAnimal),
    (DogSerializer, HyperDog),
    (KennelSerializer, HyperKennel),
    (NoteSerializer, HyperNote),
    (AuthorLinks, HyperBook),
    (ByTitle, HyperBook),
]


@pytest.mark.parametrize(("serializer_class", "model"), SERIALIZERS)
def test_same_output_as_the_per_object_path(
    lib: Library, ctx: dict[str, Any], serializer_class: Any, model: Any
) -> None:
    HyperNote.objects.create(book=lib.dune, text="n")
    HyperKennel.objects.create(resident=lib.rex, dog=lib.rex)
    HyperKennel.objects.create()
    serializer = serializer_class(context=ctx)
    assert plan_for(serializer) is not None
    instances = [*model.objects.all(), model()]  # an unsaved one has no @id
    assert len(instances) > 1
    for instance in instances:
        ours, drf = both(serializer, instance)
        assert ours == drf


def test_links_of_the_library_book_are_planned(lib: Library, ctx: dict[str, Any]) -> None:
    serializer = BookSerializer(context=ctx)
    # publisher: the stream looks publishers up by slug, the key holds the slug.
    # notes: no stream serves notes, their links are null the per-object way.
    assert planned_fields(serializer) == {"@id", "author", "publisher", "tags"}
    data = represent(serializer, lib.dune)
    assert data["@id"] == link("books", pk=lib.dune.pk)
    assert data["author"] == link("authors", pk=lib.ann.pk)
    assert data["publisher"] == link("publishers", slug="pen")
    assert data["tags"] == link("tags", "list", books=lib.dune.pk)
    assert represent(serializer, lib.emma)["publisher"] is None


def test_self_paths_and_explicit_stream(lib: Library, ctx: dict[str, Any]) -> None:
    serializer = AuthorLinks(context=ctx)
    assert planned_fields(serializer) == {"@id", "author"}
    data = represent(serializer, lib.dune)
    assert data["@id"] == link("books", pk=lib.dune.pk, titled="Dune")
    # "action" as a lookup key overrides the action, as make_link does.
    assert data["author"] == {
        "stream": "authors",
        "payload": {"action": "Dune", "pk": lib.ann.pk, "of_book": lib.dune.pk},
    }


def test_planned_foreign_key_link_costs_no_query(
    lib: Library, ctx: dict[str, Any], django_assert_num_queries: Any
) -> None:
    serializer = BookSerializer(context=ctx)
    plan_for(serializer)
    book = HyperBook.objects.get(pk=lib.dune.pk)
    with django_assert_num_queries(0):
        data = represent(serializer, book)
    assert (data["@id"], data["author"]) == (
        link("books", pk=book.pk),
        link("authors", pk=lib.ann.pk),
    )


def test_a_path_through_a_relation_reads_it_as_before(lib: Library, ctx: dict[str, Any]) -> None:
    serializer = ByTitle(context=ctx)
    assert "@id" in planned_fields(serializer)
    assert represent(serializer, lib.dune)["@id"] == link("books", title="Dune", who="Ann")


def test_unknown_stream_is_left_to_the_per_object_path_and_warned_once(
    lib: Library, caplog: pytest.LogCaptureFixture
) -> None:
    resolver_module.clear_cache()

    class Custom(HypermediaModelSerializer):
        class Meta:
            model = HyperBook
            fields = ["title", "author"]
            extra_kwargs = {"author": {"stream_name": "writers"}}

    serializer = Custom(context=context_for(table()))
    with caplog.at_level(logging.WARNING, logger="hypermedia.resolver"):
        assert planned_fields(serializer) == set()
        assert represent(serializer, lib.dune)["author"] is None
        assert represent(serializer, lib.emma)["author"] is None
    warnings = [r for r in caplog.records if "writers" in r.getMessage()]
    assert len(warnings) == 1


def test_without_a_route_table_the_error_is_the_same(lib: Library) -> None:
    serializer = BookSerializer(context={})
    with pytest.raises(NoRouteTableError) as planned:
        represent(serializer, lib.dune)
    with pytest.raises(NoRouteTableError) as drf:
        serializer.to_representation(lib.dune)
    assert str(planned.value) == str(drf.value)


def test_subclasses_are_not_planned(lib: Library, ctx: dict[str, Any]) -> None:
    class Upper(HyperChannelsApiRelationField):
        def to_representation(self, value: Any) -> Any:
            found = super().to_representation(value)
            return None if found is None else {**found, "stream": found["stream"].upper()}

    class Identity(HyperlinkedIdentityField):
        action_name = "subscribe_instance"

    class Custom(HypermediaModelSerializer):
        author = Upper(read_only=True)
        own = Identity()

        class Meta:
            model = HyperBook
            fields = ["own", "title", "author"]

    serializer = Custom(context=ctx)
    assert planned_fields(serializer) == set()
    ours, drf = both(serializer, lib.dune)
    assert ours == drf
    assert dict(ours)["author"] == link("AUTHORS", pk=lib.ann.pk)
    assert dict(ours)["own"] == link("books", "subscribe_instance", pk=lib.dune.pk)


def test_a_planned_list_link_to_a_stream_that_cannot_filter_is_warned_once(
    lib: Library, caplog: pytest.LogCaptureFixture
) -> None:
    resolver_module.clear_cache()
    serializer = AuthorSerializer(context=context_for(table()))
    assert "animals" in planned_fields(serializer)
    with caplog.at_level(logging.WARNING, logger="hypermedia.resolver"):
        for author in (lib.ann, lib.bob):
            assert represent(serializer, author)["animals"] == link(
                "animals", "list", keeper=author.pk
            )
    warnings = [r.getMessage() for r in caplog.records if "'keeper'" in r.getMessage()]
    assert len(warnings) == 1 and "AuthorSerializer.animals" in warnings[0]
