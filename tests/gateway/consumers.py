"""Consumers and ASGI apps the gateway tests mount as streams.

Plain Channels consumers on purpose: the gateway must host any websocket
application, not only ``streams.consumers.AsyncAPIConsumer``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer, JsonWebsocketConsumer

from gateway.asgi import JSON_EXTENSION

#: Instances created per consumer class name, so tests can check laziness.
CREATED: dict[str, int] = {}


def reply(action: Any, request_id: Any, data: Any = None, status: int = 200) -> dict[str, Any]:
    return {
        "errors": [],
        "data": data,
        "action": action,
        "response_status": status,
        "request_id": request_id,
    }


class EchoConsumer(AsyncJsonWebsocketConsumer):
    """Echoes payloads; a few actions exercise the gateway's edges."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        CREATED[type(self).__name__] = CREATED.get(type(self).__name__, 0) + 1
        self.joined: set[str] = set()
        self.received_via = "text"

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        action = content.get("action")
        request_id = content.get("request_id")
        if action == "sleep":
            await asyncio.sleep(content["seconds"])
        elif action == "join":
            await self.channel_layer.group_add(content["group"], self.channel_name)
            self.joined.add(content["group"])
        elif action == "shout":
            await self.channel_layer.group_send(
                content["group"], {"type": "group.message", "data": content.get("data")}
            )
        elif action == "crash":
            raise RuntimeError("boom (test crash)")
        elif action == "close":
            await self.close(code=4000)
            return
        elif action == "scope":
            await self.send_json(reply(action, request_id, self.describe_scope()))
            return
        elif action == "burst":
            for index in range(content["count"]):
                await self.send_json(reply(action, request_id, index))
            return
        elif action == "via":
            await self.send_json(reply(action, request_id, self.received_via))
            return
        await self.send_json(reply(action, request_id, content.get("data")))

    def describe_scope(self) -> dict[str, Any]:
        gateway = self.scope["gateway"]
        return {
            "path": self.scope["path"],
            "stream": gateway.stream,
            "routes": sorted(gateway.routes),
            "user": str(self.scope.get("user")),
            "headers": [[k.decode(), v.decode()] for k, v in self.scope["headers"]],
            "url_kwargs": self.scope.get("url_route", {}).get("kwargs", {}),
            "json_extension": JSON_EXTENSION in self.scope.get("extensions", {}),
        }

    async def group_message(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {
                "errors": [],
                "data": event["data"],
                "action": "event",
                "response_status": 200,
                "request_id": None,
                "stream": self.scope["gateway"].stream,
            }
        )

    async def disconnect(self, code: int) -> None:
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined.clear()


class OtherEchoConsumer(EchoConsumer):
    """Same handler names as EchoConsumer, mounted as another stream."""


class JsonEchoConsumer(EchoConsumer):
    """Takes decoded payloads and sends JSON objects (the gateway_json contract)."""

    gateway_json = True

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        if "json" in message:
            self.received_via = "json"
            await self.receive_json(message["json"])
        else:
            await super().websocket_receive(message)

    async def send_json(self, content: Any, close: bool = False) -> None:
        if JSON_EXTENSION in self.scope.get("extensions", {}):
            await self.base_send({"type": "websocket.send", "json": content})
        else:
            await super().send_json(content, close)


class RefusingConsumer(EchoConsumer):
    """Refuses every connection, as a failed can_connect does."""

    async def connect(self) -> None:
        await self.close(code=4003)


class RaisingConsumer(EchoConsumer):
    async def connect(self) -> None:
        raise RuntimeError("boom (test crash in connect)")


class SilentConsumer(EchoConsumer):
    """Neither accepts nor refuses."""

    async def connect(self) -> None:
        return None


class SyncEchoConsumer(JsonWebsocketConsumer):
    def receive_json(self, content: Any, **kwargs: Any) -> None:
        self.send_json(reply(content.get("action"), content.get("request_id"), "sync"))


async def plain_echo_app(scope: Any, receive: Any, send: Any) -> None:
    """A bare ASGI app: text replies, then a non-JSON text and a binary frame on request."""
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            content = json.loads(message["text"])
            kind = content.get("action")
            if kind == "not-json":
                await send({"type": "websocket.send", "text": "hello, not json"})
            elif kind == "bytes":
                await send({"type": "websocket.send", "bytes": b"\x00\x01"})
            elif kind == "list":
                await send({"type": "websocket.send", "text": "[1, 2]"})
            elif kind == "unencodable":
                await send({"type": "websocket.send", "json": {"x": object()}})
            else:
                content["stream_seen"] = scope["gateway"].stream
                await send({"type": "websocket.send", "text": json.dumps(content)})
        elif message["type"] == "websocket.disconnect":
            return
