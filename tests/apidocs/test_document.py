"""apidocs.document: the AsyncAPI document of a route table, checked by the official parser."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rest_framework import serializers

from apidocs.document import build_document, route_table
from gateway import RouteTable
from streams.generics import GenericAsyncAPIConsumer
from streams.mixins import RetrieveModelMixin
from tests.apidocs.parser import run_parser
from tests.apidocs.support import HypermediaGateway, ShowcaseGateway
from tests.hypermedia.support import NotesGateway
from tests.testapp.models_streams import StreamsAuthor

GATEWAYS = [ShowcaseGateway, HypermediaGateway, NotesGateway]


def operations_for(document: dict[str, Any], stream: str) -> dict[str, dict[str, Any]]:
    """action -> operation, for the operations that receive on ``stream``'s channel."""
    found = {}
    for operation in document["operations"].values():
        channel = document["channels"][operation["channel"]["$ref"].rsplit("/", 1)[1]]
        if channel["address"] == stream and operation["action"] == "receive":
            message = resolve(document, operation["messages"][0]["$ref"])
            payload = message["payload"]["properties"]["payload"]
            found[payload["properties"]["action"]["const"]] = operation
    return found


def resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def request_payload(document: dict[str, Any], stream: str, action: str) -> dict[str, Any]:
    operation = operations_for(document, stream)[action]
    message = resolve(document, operation["messages"][0]["$ref"])
    payload: dict[str, Any] = message["payload"]["properties"]["payload"]
    return payload


def reply_data(document: dict[str, Any], stream: str, action: str) -> Any:
    operation = operations_for(document, stream)[action]
    message = resolve(document, operation["reply"]["messages"][0]["$ref"])
    return message["payload"]["properties"]["payload"]["properties"]["data"]


def broken_documents() -> list[dict[str, Any]]:
    """Two documents the parser must refuse: proves the check is not vacuous."""
    document = build_document(ShowcaseGateway)
    missing_message = copy.deepcopy(document)
    missing_message["operations"]["books_retrieve"]["reply"]["messages"][0] = {
        "$ref": "#/channels/books/messages/no_such_message"
    }
    wrong_action = copy.deepcopy(document)
    wrong_action["operations"]["books_retrieve"]["action"] = "publish"
    return [missing_message, wrong_action]


@pytest.fixture(scope="module")
def parsed(node_with_parser: str, tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """The parser's verdicts: the test gateways' documents, then the broken ones."""
    documents = [build_document(gateway) for gateway in GATEWAYS] + broken_documents()
    return run_parser(node_with_parser, documents, tmp_path_factory.mktemp("asyncapi"))


@pytest.mark.interop
@pytest.mark.slow
def test_documents_of_the_test_gateways_validate_with_the_official_parser(
    parsed: list[Any],
) -> None:
    for gateway, summary in zip(GATEWAYS, parsed, strict=False):
        assert summary["parsed"], summary
        assert summary["errors"] == [], (gateway, summary["errors"])
        assert summary["warnings"] == [], (gateway, summary["warnings"])
        # The parser sees every stream as a channel, plus the gateway's own.
        assert set(summary["channels"]) >= set(gateway.build_routes()) | {"gateway"}


@pytest.mark.interop
@pytest.mark.slow
def test_the_parser_rejects_a_broken_document(parsed: list[Any]) -> None:
    missing_message, wrong_action = parsed[len(GATEWAYS) :]
    assert missing_message["errors"], missing_message
    assert wrong_action["errors"], wrong_action


@pytest.mark.parametrize("gateway", GATEWAYS, ids=lambda g: g.__name__)
def test_every_stream_and_action_of_the_route_table_appears(gateway: Any) -> None:
    document = build_document(gateway)
    routes = gateway.build_routes()
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == set(routes) | {None}
    for name, route in routes.items():
        registry = getattr(route.consumer_class, "actions", None)
        if registry is None:
            continue
        assert set(operations_for(document, name)) == set(registry), name


def test_route_table_accepts_a_gateway_a_table_or_a_mapping() -> None:
    table = ShowcaseGateway.build_routes()
    assert route_table(table) is table
    assert set(route_table(ShowcaseGateway)) == set(table)
    assert set(route_table({"only": GenericAsyncAPIConsumer})) == {"only"}
    with pytest.raises(TypeError, match="Gateway subclass, a RouteTable or a mapping"):
        route_table(42)


def test_a_change_in_a_serializer_changes_the_schema() -> None:
    class NameSerializer(serializers.ModelSerializer):
        class Meta:
            model = StreamsAuthor
            fields = ["id", "name"]

    class NameConsumer(RetrieveModelMixin, GenericAsyncAPIConsumer):
        queryset = StreamsAuthor.objects.all()
        serializer_class = NameSerializer

    before = build_document(RouteTable.from_streams({"names": NameConsumer}))

    class NameSerializer2(NameSerializer):
        initials = serializers.CharField(max_length=3, read_only=True)

        class Meta(NameSerializer.Meta):
            fields = ["id", "name", "initials"]

    NameConsumer.serializer_class = NameSerializer2
    after = build_document(RouteTable.from_streams({"names": NameConsumer}))
    old = resolve(before, reply_data(before, "names", "retrieve")["$ref"])
    new = resolve(after, reply_data(after, "names", "retrieve")["$ref"])
    assert "initials" not in old["properties"]
    assert new["properties"]["initials"] == {"type": "string", "maxLength": 3}
    assert "initials" in new["required"]


def test_requests_and_replies_are_whole_frames_naming_their_stream() -> None:
    document = build_document(ShowcaseGateway)
    message = resolve(document, "#/channels/books/messages/retrieve_request")
    frame = message["payload"]
    assert frame["required"] == ["stream", "payload"]
    assert frame["properties"]["stream"] == {"type": "string", "const": "books"}
    payload = frame["properties"]["payload"]
    assert payload["required"] == ["action", "slug"]  # lookup_field = "slug"
    assert payload["properties"]["request_id"] == {"$ref": "#/components/schemas/RequestId"}
    reply = resolve(document, "#/channels/books/messages/retrieve_reply")["payload"]
    reply_payload = reply["properties"]["payload"]
    assert reply_payload["required"] == [
        "errors",
        "data",
        "action",
        "response_status",
        "request_id",
    ]
    assert reply_payload["properties"]["response_status"] == {"type": "integer", "const": 200}
    assert message["examples"][0]["payload"]["payload"]["action"] == "retrieve"


def test_operations_describe_the_server_receiving_requests_and_replying() -> None:
    document = build_document(ShowcaseGateway)
    operation = document["operations"]["books_create"]
    assert operation["action"] == "receive"
    assert operation["channel"] == {"$ref": "#/channels/books"}
    assert [m["$ref"].rsplit("/", 1)[1] for m in operation["reply"]["messages"]] == [
        "create_reply",
        "error",
        "gatewayError",
    ]
    assert operation["x-http-method"] == "POST"
    # A custom action without @action(method=...) counts as a POST; declared, its own.
    assert document["operations"]["books_count_pages"]["x-http-method"] == "POST"
    assert document["operations"]["ping_create"]["x-http-method"] == "POST"


def test_subscriptions_document_their_pushes_as_send_operations() -> None:
    document = build_document(ShowcaseGateway)
    pushes = document["operations"]["live-authors_subscribe_instance_pushes"]
    assert pushes["action"] == "send"
    kinds = {}
    for ref in pushes["messages"]:
        payload = resolve(document, ref["$ref"])["payload"]["properties"]["payload"]
        kinds[payload["properties"]["action"]["const"]] = payload["properties"]
    assert set(kinds) == {"update", "delete"}
    assert kinds["update"]["data"] == {"$ref": "#/components/schemas/Author"}
    assert kinds["delete"]["response_status"]["const"] == 204
    assert kinds["delete"]["data"]["required"] == ["pk"]
    list_pushes = document["operations"]["live-authors_subscribe_list_pushes"]
    assert len(list_pushes["messages"]) == 3


def test_error_replies_and_gateway_error_frames_are_documented() -> None:
    document = build_document(ShowcaseGateway)
    schemas = document["components"]["schemas"]
    gateway_error = schemas["GatewayError"]["properties"]["payload"]["properties"]
    assert gateway_error["response_status"]["enum"] == [400, 403, 404, 410, 413, 429, 500]
    assert schemas["GatewayError"]["properties"]["stream"] == {"type": ["string", "null"]}
    error = resolve(document, "#/channels/books/messages/error")["payload"]
    assert error["properties"]["payload"] == {"$ref": "#/components/schemas/ErrorReply"}
    assert document["channels"]["gateway"]["address"] is None
    assert document["operations"]["gateway_errors"]["action"] == "send"


def test_plain_asgi_streams_get_an_any_json_channel() -> None:
    document = build_document(ShowcaseGateway)
    assert document["operations"]["echo_in"]["action"] == "receive"
    assert document["operations"]["echo_out"]["action"] == "send"
    message = resolve(document, "#/channels/echo/messages/in")
    assert message["payload"]["properties"]["payload"] == {"type": "object"}


def test_server_and_info_come_from_the_arguments_and_the_gateway_docstring() -> None:
    document = build_document(
        ShowcaseGateway, host="api.example.com", pathname="/socket/", protocol="wss", version="2.1"
    )
    assert document["asyncapi"] == "3.0.0"
    assert document["servers"]["gateway"]["host"] == "api.example.com"
    assert document["servers"]["gateway"]["pathname"] == "/socket/"
    assert document["servers"]["gateway"]["protocol"] == "wss"
    assert document["info"]["version"] == "2.1"
    assert document["info"]["title"] == "ShowcaseGateway websocket API"
    assert document["info"]["description"].startswith(
        "Every kind of stream the document describes."
    )


def test_stream_names_that_are_not_valid_keys_get_unique_ids() -> None:
    document = build_document(
        {
            "a b": ShowcaseGateway.streams["clock"],
            "a_b": ShowcaseGateway.streams["clock"],
            "gateway": ShowcaseGateway.streams["clock"],
        }
    )
    addresses = {key: channel["address"] for key, channel in document["channels"].items()}
    assert addresses == {"a_b": "a b", "a_b_2": "a_b", "gateway_2": "gateway", "gateway": None}
