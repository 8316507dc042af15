from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from gateway.testing import GatewayCommunicator
from streams.observer import delivery
from tests.streams.observer.support import open_client


@pytest.fixture(autouse=True)
async def fresh_layer(layer: Any) -> AsyncIterator[None]:
    """An empty in-memory channel layer (the ``layer`` fixture) and observer cache."""
    delivery.cache.clear()
    yield


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., Awaitable[GatewayCommunicator]]]:
    """Open gateway clients; every one still open is disconnected at teardown."""
    opened: list[GatewayCommunicator] = []

    async def open_(*args: Any, **kwargs: Any) -> GatewayCommunicator:
        client = await open_client(*args, **kwargs)
        opened.append(client)
        return client

    yield open_
    for client in opened:
        task = client._task
        if task is not None and not task.done():
            await client.disconnect()
