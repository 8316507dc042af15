from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from gateway.testing import GatewayCommunicator

Opener = Callable[..., Awaitable[GatewayCommunicator]]


@pytest.fixture
async def open_socket() -> AsyncIterator[Opener]:
    """Connects communicators and disconnects whichever the test left open."""
    opened: list[GatewayCommunicator] = []

    async def open_(app: Any, path: str = "/ws/", **kwargs: Any) -> GatewayCommunicator:
        communicator = GatewayCommunicator(app, path, **kwargs)
        connected, detail = await communicator.connect()
        assert connected, f"connection refused: {detail}"
        opened.append(communicator)
        return communicator

    yield open_
    for communicator in opened:
        task = communicator._task
        if task is not None and not task.done():
            await communicator.disconnect()
