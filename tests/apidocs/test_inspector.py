"""apidocs.inspector: each action's contract, and the extension points."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from apidocs.inspector import ConsumerSchema, StreamContext, consumer_schema_for
from apidocs.schemas import SerializerSchemas
from gateway import RouteTable
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.filters import FieldFilterBackend
from streams.generics import GenericAsyncAPIConsumer
from streams.mixins import ListModelMixin, RetrieveModelMixin
from tests.apidocs.support import (
    SHOWCASE_STREAMS,
    ClockSchema,
    ShowcaseBookSerializer,
    operations,
    showcase,
)
from tests.testapp.models_streams import StreamsBook


def test_retrieve_update_patch_delete_take_the_lookup_key() -> None:
    ops = showcase("books")
    for name in ("retrieve", "update", "patch", "delete"):
        assert ops[name].required[0] == "slug", name
        assert ops[name].parameters["slug"]["type"] == "string"
    assert ops["update"].parameters["data"] == {"$ref": "#/components/schemas/ShowcaseBookRequest"}
    assert ops["patch"].parameters["data"] == {
        "$ref": "#/components/schemas/PatchedShowcaseBookRequest"
    }
    assert ops["create"].statuses == (201,) and ops["delete"].statuses == (204,)
    assert ops["delete"].reply == {"type": "null"}


def test_action_asyncapi_overrides_win() -> None:
    op = showcase("books")["shout"]
    assert op.summary == "Echo a word back."
    assert op.parameters["word"] == {"type": "string", "minLength": 1}
    assert op.required == ["word"]
    assert op.reply["properties"]["word"] == {"type": "string"}


def test_a_consumer_schema_replaces_the_description_and_operations() -> None:
    op = showcase("clock")["now"]
    assert op.reply == {"type": "string", "format": "date-time"}
    assert isinstance(consumer_schema_for(SHOWCASE_STREAMS["clock"]), ClockSchema)


def test_a_consumer_schema_may_be_given_as_a_class() -> None:
    class Described(AsyncAPIConsumer):
        asyncapi_schema = ClockSchema

    assert isinstance(consumer_schema_for(Described), ClockSchema)


def test_a_wrong_asyncapi_schema_is_an_error_naming_the_fix() -> None:
    class Wrong(AsyncAPIConsumer):
        asyncapi_schema = {"summary": "no"}

    with pytest.raises(TypeError, match=r"Wrong\.asyncapi_schema must be an apidocs\.inspector"):
        consumer_schema_for(Wrong)


def test_wrong_action_overrides_are_an_error_naming_the_fix() -> None:
    class Wrong(AsyncAPIConsumer):
        @action(asyncapi="a summary")
        async def go(self, **kwargs: Any) -> tuple[None, int]:
            return None, 200

    with pytest.raises(TypeError, match=r"@action\(asyncapi=...\) of 'go' must be a dict"):
        operations({"wrong": Wrong}, "wrong")


def test_an_action_method_declared_on_the_spec_is_shown() -> None:
    class Publishing(AsyncAPIConsumer):
        @action(method="get")
        async def publish(self, **kwargs: Any) -> tuple[None, int]:
            return None, 200

    assert operations({"p": Publishing}, "p")["publish"].method == "GET"


def test_a_failing_get_serializer_is_any_json_and_a_warning(caplog: Any) -> None:
    class NeedsUser(RetrieveModelMixin, GenericAsyncAPIConsumer):
        queryset = StreamsBook.objects.all()

        def get_serializer_class(self, **kwargs: Any) -> Any:
            raise RuntimeError("needs a signed-in user")

    with caplog.at_level(logging.WARNING, logger="apidocs.inspector"):
        op = operations({"needs": NeedsUser}, "needs")["retrieve"]
    assert op.reply == {}
    assert "NeedsUser.get_serializer(action='retrieve') failed" in caplog.text


def test_filter_backends_may_describe_themselves() -> None:
    class TenantFilter(FieldFilterBackend):
        def get_asyncapi_parameters(self, consumer: Any) -> dict[str, Any]:
            return {"tenant": {"type": "string", "description": "Whose books."}}

    class Tenanted(ListModelMixin, GenericAsyncAPIConsumer):
        queryset = StreamsBook.objects.all()
        serializer_class = ShowcaseBookSerializer
        filter_backends = (TenantFilter,)

    assert operations({"t": Tenanted}, "t")["list"].parameters == {
        "tenant": {"type": "string", "description": "Whose books."}
    }


def test_view_consumers_take_query_parameters_and_data_and_show_the_method() -> None:
    ops = showcase("ping")
    assert set(ops) == {"retrieve", "create"}
    assert ops["retrieve"].method == "GET" and ops["create"].method == "POST"
    assert set(ops["create"].parameters) == {"query", "parameters", "data"}
    assert ops["retrieve"].summary.startswith("GET ")


async def plain_app(scope: Any, receive: Any, send: Any) -> None:
    """Not read: a plain ASGI callable has no consumer class."""


def test_descriptions_come_from_docstrings() -> None:
    routes = RouteTable.from_streams({**SHOWCASE_STREAMS, "plain": plain_app})
    schema = ConsumerSchema()

    def describe(name: str) -> str:
        return schema.get_description(
            StreamContext(name, routes[name], routes, SerializerSchemas())
        )

    assert describe("books") == "Books: CRUD and streamed pages."
    assert describe("ping") == "Answers pong: a DRF view over the socket."
    assert describe("echo").startswith("Echoes payloads")
    assert describe("plain").startswith("An ASGI application")
    # A class without its own docstring does not inherit its base's.
    assert describe("live-authors") == ""
