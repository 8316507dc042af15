"""The AsyncAPI 3.0 document of a gateway's route table.

Layout (why, in ``docs/ASYNCAPI.md``):

- the document describes the **server** (the gateway), so a client's request
  is an operation the server ``receive``\\s, with a ``reply``; subscription
  pushes are operations it ``send``\\s;
- one **channel per stream**, whose ``address`` is the stream name: the
  gateway routes on it as a broker routes on a topic; the websocket URL is the
  server (``host`` + ``pathname``);
- each channel's messages are whole frames (``{"stream", "payload"}``), one
  request and one reply message per action, one per push kind, the stream's
  error reply and the gateway's error frame;
- one more channel, ``gateway`` (address ``null``), for error frames that
  name no stream.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any

from apidocs.inspector import Operation, StreamContext, consumer_schema_for
from apidocs.schemas import SerializerSchemas, component_ref
from apidocs.wire import ERROR_REPLY, GATEWAY_ERROR, POSITION, REQUEST_ID, base_schemas, frame
from gateway.routing import Route, RouteTable

__all__ = ["ASYNCAPI_VERSION", "build_document", "route_table"]

ASYNCAPI_VERSION = "3.0.0"

_KEY = re.compile(r"[^A-Za-z0-9_\-]")

#: Channel id of the error frames that name no stream.
GATEWAY_CHANNEL = "gateway"


def route_table(gateway: Any) -> RouteTable:
    """The route table of ``gateway``: a ``Gateway`` subclass, a ``RouteTable``
    or a ``{name: consumer}`` mapping."""
    if isinstance(gateway, RouteTable):
        return gateway
    build_routes = getattr(gateway, "build_routes", None)
    if callable(build_routes):
        routes = build_routes()
        if isinstance(routes, RouteTable):
            return routes
    if isinstance(gateway, Mapping):
        return RouteTable.from_streams(gateway, owner="build_document")
    raise TypeError(
        f"build_document() needs a Gateway subclass, a RouteTable or a mapping of stream "
        f"names to consumers, got {gateway!r}."
    )


def _unique(base: str, taken: set[str]) -> str:
    key = _KEY.sub("_", base) or "_"
    candidate, counter = key, 2
    while candidate in taken:
        candidate = f"{key}_{counter}"
        counter += 1
    taken.add(candidate)
    return candidate


class _Builder:
    def __init__(self, routes: RouteTable, ws_path: str) -> None:
        self.routes = routes
        self.ws_path = ws_path
        self.schemas = SerializerSchemas()
        self.channels: dict[str, Any] = {}
        self.operations: dict[str, Any] = {}
        self.channel_ids: set[str] = {GATEWAY_CHANNEL}
        self.operation_ids: set[str] = set()

    def build(self) -> None:
        for name, route in self.routes.items():
            self.add_stream(name, route)
        self.add_gateway_channel()

    # ------------------------------------------------------------- streams
    def add_stream(self, name: str, route: Route) -> None:
        channel_id = _unique(name, self.channel_ids)
        context = StreamContext(name, route, self.routes, self.schemas, self.ws_path)
        describer = consumer_schema_for(route.consumer_class)
        messages: dict[str, Any] = {}
        channel: dict[str, Any] = {
            "address": name,
            "title": name,
            "messages": messages,
        }
        description = describer.get_description(context)
        if description:
            channel["description"] = description
        if route.consumer_class is not None:
            channel["x-consumer"] = (
                f"{route.consumer_class.__module__}.{route.consumer_class.__qualname__}"
            )
        self.channels[channel_id] = channel
        stream_const = {"type": "string", "const": name}
        messages["error"] = {
            "name": "error",
            "title": f"{name}: error reply",
            "summary": "An action failed; errors say why.",
            "payload": frame(stream_const, component_ref(ERROR_REPLY)),
        }
        messages["gatewayError"] = {"$ref": f"#/components/messages/{GATEWAY_ERROR}"}

        if not hasattr(route.consumer_class, "actions"):
            self.add_opaque_stream(name, channel_id, messages, stream_const)
            return
        keys = set(messages)
        for operation in describer.get_operations(context):
            self.add_operation(name, channel_id, messages, keys, stream_const, operation)

    def add_operation(
        self,
        name: str,
        channel_id: str,
        messages: dict[str, Any],
        keys: set[str],
        stream_const: dict[str, Any],
        op: Operation,
    ) -> None:
        channel_ref = {"$ref": f"#/channels/{channel_id}"}
        request_key = _unique(f"{op.action}.request", keys)
        reply_key = _unique(f"{op.action}.reply", keys)
        properties: dict[str, Any] = {
            "action": {"type": "string", "const": op.action},
            "request_id": component_ref(REQUEST_ID),
            **op.parameters,
        }
        payload: dict[str, Any] = {
            "type": "object",
            "required": ["action", *[key for key in op.required if key != "action"]],
            "properties": properties,
        }
        if not op.open_parameters:
            payload["additionalProperties"] = False
        example = {"action": op.action, "request_id": 1}
        for key in op.required:
            example.setdefault(key, _example_value(op.parameters.get(key, {})))
        messages[request_key] = {
            "name": f"{op.action} request",
            "title": f"{name} {op.action}",
            "summary": op.summary or f"Call {op.action!r} on {name!r}.",
            "payload": frame(stream_const, payload),
            "examples": [{"payload": {"stream": name, "payload": example}}],
        }
        statuses = list(op.statuses)
        messages[reply_key] = {
            "name": f"{op.action} reply",
            "title": f"{name} {op.action}: reply",
            "summary": "The action succeeded." + (" One reply per page." if op.streamed else ""),
            "payload": frame(stream_const, _reply(op.action, op.reply, statuses, op.reply_extras)),
        }
        operation: dict[str, Any] = {
            "action": "receive",
            "channel": channel_ref,
            "title": f"{name}: {op.action}",
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{request_key}"}],
            "reply": {
                "channel": channel_ref,
                "messages": [
                    {"$ref": f"#/channels/{channel_id}/messages/{reply_key}"},
                    {"$ref": f"#/channels/{channel_id}/messages/error"},
                    {"$ref": f"#/channels/{channel_id}/messages/gatewayError"},
                ],
            },
        }
        if op.summary:
            operation["summary"] = op.summary
        if op.description:
            operation["description"] = op.description
        if op.method:
            operation["x-http-method"] = op.method
        if op.streamed:
            operation["x-streamed-replies"] = True
        self.operations[_unique(f"{channel_id}.{op.action}", self.operation_ids)] = operation
        if op.pushes:
            pushes_id = _unique(f"{channel_id}.{op.action}.pushes", self.operation_ids)
            # Which send operation carries this subscription's pushes.
            operation["x-pushes"] = {"$ref": f"#/operations/{pushes_id}"}
            push_refs = []
            for push in op.pushes:
                push_key = _unique(f"{op.action}.push.{push.action}", keys)
                messages[push_key] = {
                    "name": f"{op.action} push: {push.action}",
                    "title": f"{name} {op.action}: {push.action} push",
                    "summary": push.description or f"A {push.action} push.",
                    "payload": frame(
                        stream_const,
                        _reply(push.action, push.data, [push.status], _PUSH_EXTRAS),
                    ),
                }
                push_refs.append({"$ref": f"#/channels/{channel_id}/messages/{push_key}"})
            self.operations[pushes_id] = {
                "action": "send",
                "channel": channel_ref,
                "title": f"{name}: {op.action} pushes",
                "summary": f"Live changes after {op.action!r}, with its request_id.",
                "description": (
                    f"Sent for each change until the matching un{op.action} (or the end of "
                    "the connection). Each push carries the request_id of the subscribe "
                    "that asked for it and never arrives before that subscribe's reply."
                ),
                "messages": push_refs,
            }

    def add_opaque_stream(
        self, name: str, channel_id: str, messages: dict[str, Any], stream_const: dict[str, Any]
    ) -> None:
        """An ASGI application the gateway knows nothing about: any JSON, either way."""
        channel_ref = {"$ref": f"#/channels/{channel_id}"}
        messages["in"] = {
            "name": "in",
            "title": f"{name}: to the application",
            "payload": frame(stream_const, {"type": "object"}),
        }
        messages["out"] = {
            "name": "out",
            "title": f"{name}: from the application",
            "payload": frame(stream_const, {}),
        }
        self.operations[_unique(f"{channel_id}.in", self.operation_ids)] = {
            "action": "receive",
            "channel": channel_ref,
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/in"}],
        }
        self.operations[_unique(f"{channel_id}.out", self.operation_ids)] = {
            "action": "send",
            "channel": channel_ref,
            "messages": [
                {"$ref": f"#/channels/{channel_id}/messages/out"},
                {"$ref": f"#/channels/{channel_id}/messages/gatewayError"},
            ],
        }

    def add_gateway_channel(self) -> None:
        self.channels[GATEWAY_CHANNEL] = {
            "address": None,
            "title": "gateway",
            "description": (
                "Error frames of the gateway itself. Those that can name their stream "
                "carry it (and are listed among that stream's replies too); the others "
                "(not JSON, not an object, too deep, binary, too large) have stream null."
            ),
            "messages": {"gatewayError": {"$ref": f"#/components/messages/{GATEWAY_ERROR}"}},
        }
        self.operations[_unique("gateway.errors", self.operation_ids)] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{GATEWAY_CHANNEL}"},
            "title": "gateway: error frames",
            "summary": "A frame the gateway refused (see docs/PROTOCOL.md, section 4).",
            "messages": [{"$ref": f"#/channels/{GATEWAY_CHANNEL}/messages/gatewayError"}],
        }


#: Optional keys of every push: its place in the history, when the observer keeps one.
_PUSH_EXTRAS = {"position": component_ref(POSITION)}


def _reply(
    action: str,
    data: dict[str, Any],
    statuses: list[int],
    extras: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {"type": "integer"}
    if len(statuses) == 1:
        status["const"] = statuses[0]
    else:
        status["enum"] = statuses
    return {
        "type": "object",
        "required": ["errors", "data", "action", "response_status", "request_id"],
        "properties": {
            "errors": {"type": "array", "maxItems": 0},
            "data": data,
            "action": {"type": "string", "const": action},
            "response_status": status,
            "request_id": component_ref(REQUEST_ID),
            **(extras or {}),
        },
    }


def _example_value(schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0] if kind else None
    return {"integer": 1, "number": 1, "string": "", "boolean": False, "array": []}.get(
        str(kind), {}
    )


def build_document(
    gateway: Any,
    *,
    title: str | None = None,
    version: str = "1.0.0",
    description: str | None = None,
    host: str = "localhost:8000",
    pathname: str = "/ws/",
    protocol: str = "ws",
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document (a JSON-ready dict) of ``gateway``'s streams.

    ``gateway`` is a ``Gateway`` subclass (its ``build_routes()``), a
    ``RouteTable`` or a ``{name: consumer}`` mapping; ``host``, ``pathname``
    and ``protocol`` (``ws`` or ``wss``) say where it is mounted.
    """
    routes = route_table(gateway)
    builder = _Builder(routes, pathname)
    builder.build()
    name = getattr(gateway, "__qualname__", None) or "Gateway"
    if description is None:
        own = inspect.getdoc(gateway) if isinstance(gateway, type) else None
        description = own or ""
    intro = (
        "One websocket carries many named streams. Every frame, both ways, is "
        '`{"stream": NAME, "payload": {...}}`; a request\'s payload names its `action` and '
        "may carry a `request_id`, which the reply echoes. Channels are streams; "
        "operations are actions."
    )
    schemas = base_schemas()
    schemas.update(builder.schemas.components)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": title or f"{name} websocket API",
            "version": version,
            "description": f"{description}\n\n{intro}".strip(),
        },
        "defaultContentType": "application/json",
        "servers": {
            "gateway": {
                "host": host,
                "pathname": pathname,
                "protocol": protocol,
                "description": "The websocket the gateway is mounted on.",
            }
        },
        "channels": builder.channels,
        "operations": builder.operations,
        "components": {
            "schemas": schemas,
            "messages": {
                GATEWAY_ERROR: {
                    "name": "gatewayError",
                    "title": "Gateway error frame",
                    "payload": component_ref(GATEWAY_ERROR),
                }
            },
        },
    }
