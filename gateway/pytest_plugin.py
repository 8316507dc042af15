"""pytest fixtures for projects that use channels-gateway (the testing kit).

Installing the package registers this module as a pytest plugin (the
``pytest11`` entry point ``channels_gateway``), so a project's tests get the
fixtures with no conftest of their own:

``gateway_application``
    What the communicator fixtures connect to. Override it in your conftest
    to return your gateway, e.g. ``return MyGateway.as_asgi()``.
``gateway_communicator``
    A connected :class:`gateway.testing.GatewayCommunicator` with an
    anonymous user in the scope; disconnected (and awaited) after the test.
``gateway_user`` / ``user_gateway_communicator``
    A user created with ``django_user_model`` (the test needs database
    access) and a communicator connected as that user.
``gateway_connect``
    The factory behind them: ``await gateway_connect(app=None, user=None,
    path="/", headers=(), scope=None)`` for any other combination.
``isolated_channel_layer``
    A fresh in-memory channel layer in place of the default one for the
    test, whatever ``CHANNEL_LAYERS`` says (none needed); the previous layer
    is put back afterwards. Groups and messages never leak between tests.

And one autouse fixture, the reason test order does not matter: sync actions
and ``database_sync_to_async`` run in threads that outlive a test, and so do
their database connections. After each test that had database access, those
connections are closed; otherwise the next test without database access
fails in those threads ("Database access not allowed") and a
``transaction=True`` test's connection may be reused by the next test.

Async fixtures need pytest-asyncio (its ``auto`` or ``strict`` mode both
work); without it only the sync fixtures are defined. Nothing here imports
Django until a fixture runs, so the plugin is harmless in projects that do
not use it. Docs and examples: ``docs/TESTING.md``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from channels.layers import InMemoryChannelLayer

    from gateway.asgi import ASGIApp
    from gateway.testing import GatewayCommunicator

try:  # pytest-asyncio's decorator works in its strict and auto modes alike.
    import pytest_asyncio

    async_fixture: Callable[..., Any] | None = pytest_asyncio.fixture
except ImportError:  # pragma: no cover - exercised only without pytest-asyncio
    async_fixture = None

__all__ = [
    "gateway_application",
    "gateway_communicator",
    "gateway_connect",
    "gateway_user",
    "isolated_channel_layer",
    "user_gateway_communicator",
]

Connect = Callable[..., Awaitable["GatewayCommunicator"]]
_DATABASE_FIXTURES = frozenset({"db", "transactional_db", "django_db_reset_sequences"})


def _uses_database(request: pytest.FixtureRequest) -> bool:
    return request.node.get_closest_marker("django_db") is not None or bool(
        _DATABASE_FIXTURES.intersection(request.fixturenames)
    )


def _close_this_threads_connections() -> None:
    from django.db import connections
    from django.db.backends.base.base import BaseDatabaseWrapper

    for conn in connections.all(initialized_only=True):
        if conn.connection is not None:
            # BaseDatabaseWrapper.close: SQLite's own close() keeps in-memory
            # databases open, and the test thread's connection keeps it alive.
            BaseDatabaseWrapper.close(conn)


async def _close_database_thread_connections() -> None:
    from asgiref.sync import sync_to_async

    from streams.observer.membership import call_in_membership_thread
    from streams.threads import call_in_every_action_thread

    # The shared thread-sensitive thread (database_sync_to_async), every
    # thread of the sync-action pool (streams.threads), and the observers'
    # membership thread (streams.observer.membership), which keeps its connection.
    await sync_to_async(_close_this_threads_connections, thread_sensitive=True)()
    await sync_to_async(call_in_every_action_thread, thread_sensitive=False)(
        _close_this_threads_connections
    )
    await sync_to_async(call_in_membership_thread, thread_sensitive=False)(
        _close_this_threads_connections
    )


@pytest.fixture(autouse=True)
def _channels_gateway_release_database_threads(request: pytest.FixtureRequest) -> Iterator[None]:
    """Close the database threads' connections after every test with database access."""
    yield
    if _uses_database(request):
        # A sync fixture, so it needs no asyncio plugin: its own short-lived
        # loop reaches the same threads (asgiref's executors are per process).
        asyncio.run(_close_database_thread_connections())


@pytest.fixture
def gateway_application() -> ASGIApp:
    """Override in your conftest: the ASGI application the communicators connect to."""
    raise pytest.UsageError(
        "The gateway_communicator fixtures need to know your gateway: define a "
        "`gateway_application` fixture in your conftest.py that returns it, e.g. "
        "`return MyGateway.as_asgi()` (see docs/TESTING.md)."
    )


@pytest.fixture
def gateway_user(django_user_model: Any) -> Any:
    """A user for ``user_gateway_communicator``; override it for other users."""
    return django_user_model.objects.create_user(
        username="gateway-test-user", password="gateway-test-password"
    )


@pytest.fixture
def isolated_channel_layer() -> Iterator[InMemoryChannelLayer]:
    """A fresh in-memory layer as the default channel layer for this test."""
    from channels import DEFAULT_CHANNEL_LAYER
    from channels.layers import InMemoryChannelLayer, channel_layers

    missing = object()
    previous = channel_layers.backends.get(DEFAULT_CHANNEL_LAYER, missing)
    layer = InMemoryChannelLayer()
    channel_layers.set(DEFAULT_CHANNEL_LAYER, layer)
    try:
        yield layer
    finally:
        if previous is missing:
            channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
        else:
            channel_layers.set(DEFAULT_CHANNEL_LAYER, previous)


if async_fixture is not None:

    @async_fixture
    async def gateway_connect(request: pytest.FixtureRequest) -> AsyncIterator[Connect]:
        """Connect ``GatewayCommunicator`` objects; each is disconnected after the test.

        ``app`` defaults to the ``gateway_application`` fixture; ``user``
        defaults to an anonymous user, as ``AuthMiddlewareStack`` would give.
        """
        from django.contrib.auth.models import AnonymousUser

        from gateway.testing import GatewayClosed, GatewayCommunicator

        opened: list[GatewayCommunicator] = []

        async def connect(
            app: ASGIApp | None = None,
            *,
            user: Any = None,
            path: str = "/",
            headers: Iterable[tuple[bytes, bytes]] = (),
            scope: Mapping[str, Any] | None = None,
        ) -> GatewayCommunicator:
            application = app if app is not None else request.getfixturevalue("gateway_application")
            extra = {"user": user if user is not None else AnonymousUser(), **(scope or {})}
            comm = GatewayCommunicator(application, path, headers=headers, scope=extra)
            connected, detail = await comm.connect()
            if not connected:
                raise GatewayClosed(
                    f"The application refused the connection (close code {detail}).", detail
                )
            opened.append(comm)
            return comm

        yield connect
        for comm in reversed(opened):
            await comm.disconnect()

    @async_fixture
    async def gateway_communicator(gateway_connect: Connect) -> GatewayCommunicator:
        """A ``GatewayCommunicator`` connected to ``gateway_application``, anonymously."""
        return await gateway_connect()

    @async_fixture
    async def user_gateway_communicator(
        gateway_connect: Connect, gateway_user: Any
    ) -> GatewayCommunicator:
        """A ``GatewayCommunicator`` connected to ``gateway_application`` as ``gateway_user``."""
        return await gateway_connect(user=gateway_user)
