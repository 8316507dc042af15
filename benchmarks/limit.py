"""The "limit": bare ASGI websocket apps with no Django, on the same server.

- Any text frame is echoed back unchanged (the request/response limit).
- A frame whose payload action is ``list`` gets a pre-built reply carrying 100
  book-shaped objects, so the list limit moves as many bytes as the real thing.
- A frame whose payload action is ``patch`` is broadcast as an ``update`` push to
  every other open socket (the fan-out limit), then echoed to the sender.

Serve it with ``uvicorn benchmarks.limit:application``.
"""

from __future__ import annotations

import json
from typing import Any

Scope = dict[str, Any]


def _list_reply_parts() -> tuple[str, str]:
    """Return the text before and after the request_id of a canned list reply."""
    results = [
        {
            "@id": {"stream": "library", "payload": {"action": "retrieve", "pk": i + 1}},
            "title": f"Book {i}",
            "author": {"stream": "authors", "payload": {"action": "retrieve", "pk": i % 20 + 1}},
            "pages": 100 + i,
            "published": "2000-01-01",
            "summary": f"A summary of book {i}, long enough to look like real text. " * 2,
        }
        for i in range(100)
    ]
    marker = "__REQUEST_ID__"
    frame = {
        "stream": "library",
        "payload": {
            "errors": [],
            "data": results,
            "action": "list",
            "response_status": 200,
            "request_id": marker,
        },
    }
    before, after = json.dumps(frame).split(json.dumps(marker))
    return before, after


class LimitApp:
    """Echo, canned list and broadcast; one instance serves every connection."""

    def __init__(self) -> None:
        self.clients: set[Any] = set()
        self.list_before, self.list_after = _list_reply_parts()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "websocket.receive":
                text = message.get("text")
                if text is not None:
                    await self.on_text(text, send)
            elif kind == "websocket.connect":
                await send({"type": "websocket.accept"})
                self.clients.add(send)
            elif kind == "websocket.disconnect":
                self.clients.discard(send)
                return

    async def on_text(self, text: str, send: Any) -> None:
        # Substring tests keep the echo path free of JSON parsing: that is the limit.
        if '"list"' in text:
            request_id = json.loads(text)["payload"].get("request_id")
            reply = self.list_before + json.dumps(request_id) + self.list_after
            await send({"type": "websocket.send", "text": reply})
            return
        if '"patch"' in text:
            payload = json.loads(text)["payload"]
            push = json.dumps(
                {
                    "stream": "books",
                    "payload": {
                        "errors": [],
                        "data": {"id": payload.get("pk"), **payload.get("data", {})},
                        "action": "update",
                        "response_status": 200,
                        "request_id": None,
                    },
                }
            )
            event = {"type": "websocket.send", "text": push}
            for client in list(self.clients):
                if client is not send:
                    await client(event)
        await send({"type": "websocket.send", "text": text})


application = LimitApp()
