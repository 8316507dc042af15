"""apidocs.inspector: each action's contract, and the extension points."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from apidocs.inspector import ConsumerSchema, Operation, StreamContext, consumer_schema_for
from apidocs.schemas import SerializerSchemas
from gateway import RouteTable
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.filters import FieldFilterBackend
from streams.generics import GenericAsyncAPIConsumer
from streams.mixins import ListModelMixin, PaginatedModelListMixin, RetrieveModelMixin
from tests.apidocs.support import SHOWCASE_STREAMS, ClockSchema, ShowcaseBookSerializer
from tests.testapp.models_streams import StreamsBook


def operations(streams: dict[str, Any], name: str) -> dict[str, Operation]:
    routes = RouteTable.from_streams(streams)
    context = StreamContext(name, routes[name], routes, SerializerSchemas())
    schema = consumer_schema_for(routes[name].consumer_class)
    return {op.action: op for op in schema.get_operations(context)}


def showcase(name: str) -> dict[str, Operation]:
    return operations(SHOWCASE_STREAMS, name)


def test_list_takes_declared_filters_drf_backends_and_pages() -> None:
    op = showcase("books")["list"]
    params = op.parameters
    assert params["pages"]["type"] == "integer"
    assert params["pages__in"]["type"] == "array"
    assert params["pages__range"]["minItems"] == params["pages__range"]["maxItems"] == 2
    assert params["author__name__icontains"]["type"] == "string"
    assert params["search"]["type"] == "string"  # DRF SearchFilter's own description
    assert params["ordering"]["type"] == "string"
    assert {"limit", "offset"} <= set(params)
    assert op.streamed is True
    assert set(op.reply["required"]) == {"count", "results", "limit", "offset", "last"}


def test_paginated_list_without_a_paginator_replies_a_plain_list() -> None:
    class Plain(PaginatedModelListMixin, GenericAsyncAPIConsumer):
        queryset = StreamsBook.objects.all()
        serializer_class = ShowcaseBookSerializer
        pagination_class = None

    op = operations({"plain": Plain}, "plain")["list"]
    assert op.reply["type"] == "array"
    assert "limit" not in op.parameters


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


def test_subscribe_actions_take_snapshot_and_list_filters() -> None:
    ops = showcase("live-authors")
    assert ops["subscribe_instance"].parameters["snapshot"]["type"] == "boolean"
    assert ops["subscribe_instance"].required == ["pk"]
    assert ops["subscribe_list"].parameters["name"]["type"] == "string"
    assert [push.action for push in ops["subscribe_list"].pushes] == ["create", "update", "delete"]
    assert ops["unsubscribe_list"].statuses == (204,)


def test_custom_actions_are_described_from_their_signature_and_docstring() -> None:
    op = showcase("books")["count_pages"]
    assert op.summary == "Total pages of the books in a range."
    assert op.description == "Sums ``pages`` of every book with at least ``minimum`` pages."
    assert op.parameters == {
        "minimum": {"type": "integer"},
        "maximum": {"type": ["integer", "null"], "default": None},
    }
    assert op.required == ["minimum"]
    assert op.open_parameters is True  # it takes **kwargs


def test_a_signature_without_kwargs_closes_the_payload() -> None:
    class Strict(AsyncAPIConsumer):
        @action()
        async def add(self, a: int, b: int = 2, action: str = "add") -> tuple[int, int]:
            return a + b, 200

    op = operations({"strict": Strict}, "strict")["add"]
    assert op.open_parameters is False
    assert op.parameters["b"] == {"type": "integer", "default": 2}


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


def test_a_consumer_that_cannot_be_created_is_an_error_naming_the_fix() -> None:
    class NeedsArgs(RetrieveModelMixin, GenericAsyncAPIConsumer):
        queryset = StreamsBook.objects.all()
        serializer_class = ShowcaseBookSerializer

        def __init__(self, token: str) -> None:
            super().__init__()

    with pytest.raises(TypeError, match=r"cannot create .*NeedsArgs.* give it an asyncapi_schema"):
        operations({"needs": NeedsArgs}, "needs")
