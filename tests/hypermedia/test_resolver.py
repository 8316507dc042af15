"""hypermedia.resolver: model -> stream on a route table, cached per table."""

from __future__ import annotations

from typing import Any

import pytest

from gateway import RouteTable, StreamScope
from hypermedia import resolver as resolver_module
from hypermedia.resolver import (
    NoRouteTableError,
    StreamResolver,
    model_of_consumer,
    resolver_for_scope,
    stream_scope_for,
)
from tests.hypermedia.support import (
    AnimalConsumer,
    AuthorConsumer,
    BookConsumer,
    DogConsumer,
    PublisherConsumer,
    PuppyConsumer,
    TagConsumer,
    table,
)
from tests.testapp.models_hypermedia import (
    HyperAnimal,
    HyperAuthor,
    HyperBook,
    HyperDog,
    HyperLoudDog,
    HyperNote,
    HyperPuppy,
    HyperTag,
)


def resolver(streams: dict[str, Any]) -> StreamResolver:
    return resolver_for_scope({"gateway": StreamScope(RouteTable.from_streams(streams), "x")})


async def plain_app(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI application with no consumer class behind it."""


def test_exact_model_wins_over_parents() -> None:
    found = resolver({"animals": AnimalConsumer, "dogs": DogConsumer}).for_model(HyperDog)
    assert found is not None and found.name == "dogs"


def test_nearest_parent_at_any_depth() -> None:
    # Puppy -> Dog -> Animal: without a puppy stream, the dog stream is nearest.
    both = resolver({"animals": AnimalConsumer, "dogs": DogConsumer})
    assert both.for_model(HyperPuppy).name == "dogs"  # type: ignore[union-attr]
    # Without it, two levels up (hypermediachannels crashed on this).
    animals_only = resolver({"animals": AnimalConsumer})
    assert animals_only.for_model(HyperPuppy).name == "animals"  # type: ignore[union-attr]


def test_child_stream_never_serves_a_parent() -> None:
    assert resolver({"puppies": PuppyConsumer}).for_model(HyperAnimal) is None


def test_proxy_resolves_to_its_concrete_models_stream() -> None:
    found = resolver({"dogs": DogConsumer}).for_model(HyperLoudDog)
    assert found is not None and found.name == "dogs"


def test_no_stream_for_a_model_is_none() -> None:
    assert resolver({"books": BookConsumer}).for_model(HyperNote) is None


def test_first_stream_wins_when_two_serve_a_model() -> None:
    found = resolver({"tags": TagConsumer, "labels": TagConsumer}).for_model(HyperTag)
    assert found is not None and found.name == "tags"


def test_class_and_as_asgi_mounts_resolve_alike() -> None:
    by_class = resolver({"authors": AuthorConsumer}).for_model(HyperAuthor)
    by_app = resolver({"authors": AuthorConsumer.as_asgi()}).for_model(HyperAuthor)
    assert by_class is not None and by_app is not None
    assert by_class.consumer_class is by_app.consumer_class is AuthorConsumer
    assert type(by_app.new_consumer()) is AuthorConsumer


def test_plain_asgi_app_serves_no_model() -> None:
    found = resolver({"raw": plain_app})
    assert found.stream("raw") is not None
    assert found.stream("raw").consumer_class is None  # type: ignore[union-attr]
    assert found.for_model(HyperBook) is None


def test_model_from_queryset_else_serializer_meta() -> None:
    assert model_of_consumer(AuthorConsumer) is HyperAuthor
    # DogConsumer overrides get_queryset and has no queryset attribute.
    assert model_of_consumer(DogConsumer) is HyperDog
    # BookConsumer too: its serializer says HyperBook.
    assert model_of_consumer(BookConsumer) is HyperBook
    assert model_of_consumer(None) is None


def test_lookup_comes_from_the_consumer() -> None:
    found = resolver({"publishers": PublisherConsumer, "authors": AuthorConsumer})
    assert (found.stream("publishers").lookup_field, found.stream("publishers").lookup_kwarg) == (  # type: ignore[union-attr]
        "slug",
        "slug",
    )
    assert found.stream("authors").lookup_kwarg == "pk"  # type: ignore[union-attr]


def test_offers_reads_the_action_registry() -> None:
    found = resolver({"publishers": PublisherConsumer})
    publishers = found.stream("publishers")
    assert publishers is not None
    assert publishers.offers("retrieve") and not publishers.offers("list")


def test_one_resolver_per_route_table(monkeypatch: pytest.MonkeyPatch) -> None:
    resolver_module.clear_cache()
    built: list[StreamResolver] = []
    original = StreamResolver.__init__

    def counting(self: StreamResolver, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(StreamResolver, "__init__", counting)
    routes = table()
    first = resolver_for_scope({"gateway": StreamScope(routes, "books")})
    second = resolver_for_scope({"gateway": StreamScope(routes, "authors")})
    assert first is second and len(built) == 1
    # Another table (another mount) has its own.
    third = resolver_for_scope({"gateway": StreamScope(table(), "books")})
    assert third is not first and len(built) == 2


def test_model_resolution_is_memoised(monkeypatch: pytest.MonkeyPatch) -> None:
    found = resolver({"animals": AnimalConsumer})
    assert found.for_model(HyperPuppy) is not None
    # A second call does not walk the MRO again.
    monkeypatch.setattr(found, "_by_exact_model", {})
    assert found.for_model(HyperPuppy) is not None


class Demultiplexer:
    """hypermediachannels' contract: a class with an ``applications`` table."""

    applications: dict[str, Any] = {
        "authors": AuthorConsumer.as_asgi(),
        "tags": TagConsumer,
    }


def test_demultiplexer_cls_contract() -> None:
    found = resolver_for_scope({"demultiplexer_cls": Demultiplexer})
    assert found.for_model(HyperAuthor).name == "authors"  # type: ignore[union-attr]
    assert found.for_model(HyperTag).name == "tags"  # type: ignore[union-attr]
    assert found.routes is None


def test_demultiplexer_table_change_is_noticed() -> None:
    class Growing:
        applications: dict[str, Any] = {"authors": AuthorConsumer}

    before = resolver_for_scope({"demultiplexer_cls": Growing})
    assert before is resolver_for_scope({"demultiplexer_cls": Growing})
    Growing.applications["tags"] = TagConsumer
    after = resolver_for_scope({"demultiplexer_cls": Growing})
    assert after is not before and after.for_model(HyperTag) is not None


def test_demultiplexer_without_applications_is_an_error() -> None:
    with pytest.raises(NoRouteTableError, match="applications"):
        resolver_for_scope({"demultiplexer_cls": object})


@pytest.mark.parametrize("scope", [None, {}, {"gateway": None}, {"gateway": "books"}, "scope"])
def test_no_route_table_names_the_problem_and_the_fix(scope: Any) -> None:
    with pytest.raises(NoRouteTableError) as info:
        resolver_for_scope(scope, owner="BookSerializer.author")
    message = str(info.value)
    assert "BookSerializer.author" in message
    assert "gateway.Gateway" in message and "context" in message


def test_stream_scope_for_points_at_the_target_stream() -> None:
    routes = table()
    scope = {"gateway": StreamScope(routes, "books"), "user": "ann"}
    target = stream_scope_for(scope, "authors")
    assert target["gateway"].stream == "authors" and target["gateway"].routes is routes
    assert target["user"] == "ann"
    assert scope["gateway"].stream == "books"  # the original is untouched
    # hypermediachannels' scopes are copied as they are.
    assert stream_scope_for({"demultiplexer_cls": Demultiplexer}, "authors") == {
        "demultiplexer_cls": Demultiplexer
    }


def test_cache_is_bounded() -> None:
    resolver_module.clear_cache()
    tables = [table() for _ in range(resolver_module.CACHE_SIZE + 5)]
    for routes in tables:
        resolver_for_scope({"gateway": StreamScope(routes, "books")})
    assert len(resolver_module._cache._entries) == resolver_module.CACHE_SIZE
