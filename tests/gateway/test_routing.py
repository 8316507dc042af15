"""Route, RouteTable and StreamScope."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from channels.routing import URLRouter

from gateway.routing import Route, RouteTable, StreamScope
from tests.gateway.consumers import EchoConsumer, JsonEchoConsumer, plain_echo_app


def test_a_consumer_class_is_mounted_with_as_asgi():
    route = Route.mount("books", EchoConsumer)
    assert route.consumer_class is EchoConsumer
    assert route.app.consumer_class is EchoConsumer  # type: ignore[attr-defined]
    assert isinstance(route.new_instance(), EchoConsumer)
    assert route.accepts_json is False


def test_an_as_asgi_app_keeps_its_class_and_initkwargs():
    app = JsonEchoConsumer.as_asgi(groups=["x"])
    route = Route.mount("json", app)
    assert route.app is app
    assert route.consumer_class is JsonEchoConsumer
    assert route.accepts_json is True
    assert route.initkwargs == {"groups": ["x"]}
    assert isinstance(route.new_instance(), JsonEchoConsumer)


def test_wrapped_apps_are_called_not_instantiated():
    inner = EchoConsumer.as_asgi()

    @functools.wraps(inner)
    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        await inner(scope, receive, send)

    # functools.wraps copied consumer_class; the gateway must still call the
    # wrapper, or the middleware would be skipped.
    route = Route.mount("wrapped", middleware)
    assert route.consumer_class is EchoConsumer
    assert route.new_instance() is None


def test_plain_apps_and_routers_have_no_consumer_class():
    assert Route.mount("plain", plain_echo_app).consumer_class is None
    router = Route.mount("router", URLRouter([]))
    assert router.consumer_class is None
    assert router.new_instance() is None
    assert router.accepts_json is False


@pytest.mark.parametrize(
    ("name", "target", "message"),
    [
        ("", EchoConsumer, "non-empty strings"),
        (3, EchoConsumer, "non-empty strings"),
        ("x", dict, "has no as_asgi"),
        ("x", "EchoConsumer", "neither a consumer class nor an ASGI application"),
    ],
)
def test_bad_entries_name_the_owner_and_the_fix(name: Any, target: Any, message: str):
    with pytest.raises(TypeError, match=message) as info:
        Route.mount(name, target, owner="Demoplexer")
    assert "Demoplexer" in str(info.value)


def test_route_table_is_an_immutable_mapping():
    table = RouteTable.from_streams({"a": EchoConsumer, "b": plain_echo_app})
    assert list(table) == ["a", "b"]
    assert len(table) == 2 and "a" in table and "z" not in table
    assert table.get("z") is None
    assert table["b"].app is plain_echo_app
    assert dict(table.items())["a"].name == "a"
    with pytest.raises(TypeError):
        table["c"] = table["a"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        table.extra = 1  # type: ignore[attr-defined]  # slots: no new attributes
    assert repr(table) == "RouteTable(['a', 'b'])"


def test_route_table_rejects_duplicates_and_non_mappings():
    with pytest.raises(ValueError, match="'a'"):
        RouteTable([Route.mount("a", EchoConsumer), Route.mount("a", plain_echo_app)])
    with pytest.raises(TypeError, match="must be a mapping"):
        RouteTable.from_streams([("a", EchoConsumer)])  # type: ignore[arg-type]


def test_names_for_finds_the_streams_of_a_class():
    table = RouteTable.from_streams(
        {"a": EchoConsumer, "b": JsonEchoConsumer.as_asgi(), "c": EchoConsumer.as_asgi()}
    )
    assert table.names_for(EchoConsumer) == ("a", "c")
    assert table.names_for(JsonEchoConsumer) == ("b",)


def test_stream_scope_is_frozen_and_knows_its_route():
    table = RouteTable.from_streams({"a": EchoConsumer})
    stream_scope = StreamScope(table, "a")
    assert stream_scope.route is table["a"]
    with pytest.raises(AttributeError):
        stream_scope.stream = "b"  # type: ignore[misc]
