"""Fixtures shared by the whole suite. Keep this small: area-specific helpers
belong next to their tests.

Database tests whose consumers run sync actions need
``@pytest.mark.django_db(transaction=True)``: those actions run in the database
thread, on another connection to the shared in-memory SQLite database, which
cannot see (and is locked out by) a test's uncommitted transaction. And wait
with ``comm.receive_nothing()`` rather than a timing-out ``receive_json_from``,
which cancels the application.

The database threads (the shared thread-sensitive one and the sync-action
pool's) outlive a test, and so do their connections; the autouse
``_release_database_thread_connections`` closes them after every database
test, or the next test without database access would fail in those threads'
``close_old_connections``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from streams.threads import call_in_every_action_thread

Connect = Callable[..., Awaitable[WebsocketCommunicator]]


def _close_thread_connections() -> None:
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None:
            # BaseDatabaseWrapper.close: SQLite's own close() ignores in-memory
            # databases. The main thread's connection keeps the database alive.
            BaseDatabaseWrapper.close(conn)


@pytest.fixture(autouse=True)
async def _release_database_thread_connections(request: Any) -> AsyncIterator[None]:
    yield
    uses_db = request.node.get_closest_marker("django_db") is not None or {
        "db",
        "transactional_db",
    }.intersection(request.fixturenames)
    if uses_db:
        # The shared thread-sensitive thread (database_sync_to_async) and every
        # thread of the sync-action pool (streams.threads).
        await sync_to_async(_close_thread_connections, thread_sensitive=True)()
        await sync_to_async(call_in_every_action_thread, thread_sensitive=False)(
            _close_thread_connections
        )


@pytest.fixture
async def layer() -> AsyncIterator[InMemoryChannelLayer]:
    """The in-memory channel layer, empty before and after the test."""
    channel_layer = get_channel_layer()
    assert isinstance(channel_layer, InMemoryChannelLayer)
    await channel_layer.flush()
    yield channel_layer
    await channel_layer.flush()


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
