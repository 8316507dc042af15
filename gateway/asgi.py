"""The ASGI shapes the gateway speaks, as type aliases.

Kept in one place so that every module types scopes, messages and callables
alike; ASGI itself only promises dicts and awaitables.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeAlias

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = dict[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The ASGI extension key the gateway sets in each stream's scope. A stream that
#: sees it may send ``{"type": "websocket.send", "json": obj}`` instead of text.
JSON_EXTENSION = "channels_gateway.json"
