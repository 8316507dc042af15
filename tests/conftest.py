"""Fixtures shared by the whole suite. Keep this small: area-specific helpers
belong next to their tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator

Connect = Callable[..., Awaitable[WebsocketCommunicator]]


@pytest.fixture
async def communicator() -> AsyncIterator[Connect]:
    """Open ``WebsocketCommunicator`` connections to ASGI apps; all closed at teardown.

    ``comm = await communicator(MyConsumer.as_asgi(), user=some_user)``: keyword
    arguments are added to the scope.
    """
    opened: list[WebsocketCommunicator] = []

    async def connect(app: Any, path: str = "/", **scope_extra: Any) -> WebsocketCommunicator:
        comm = WebsocketCommunicator(app, path)
        comm.scope.update(scope_extra)
        connected, _ = await comm.connect()
        assert connected, "the consumer refused the connection"
        opened.append(comm)
        return comm

    yield connect
    for comm in opened:
        await comm.disconnect()


async def request(comm: WebsocketCommunicator, message: dict[str, Any]) -> dict[str, Any]:
    """Send one message and return the next reply."""
    await comm.send_json_to(message)
    reply: dict[str, Any] = await comm.receive_json_from(timeout=2)
    return reply
