"""Fixtures shared by the whole suite. Keep this small: area-specific helpers
belong next to their tests.

Database tests whose consumers run sync actions need
``@pytest.mark.django_db(transaction=True)``: those actions run in the database
thread, on another connection to the shared in-memory SQLite database, which
cannot see (and is locked out by) a test's uncommitted transaction. And wait
with ``comm.receive_nothing()`` rather than a timing-out ``receive_json_from``,
which cancels the application.

The database threads' connections are closed after every database test by
the testing kit's autouse fixture (``gateway/pytest_plugin.py``, loaded
through its ``pytest11`` entry point like in any project that installs the
package), which is what makes test order irrelevant."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import InMemoryChannelLayer, channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator

from streams.cancellation import cancel_and_wait
from tests import stacks
from tests.layers import InspectableRedisChannelLayer

Connect = Callable[..., Awaitable[WebsocketCommunicator]]


#: Test folders whose tests run their own processes (servers, builds, node)
#: with settings of their own: the same on either stack, so the production
#: run leaves them to the fast one instead of running them twice.
OWN_PROCESS_FOLDERS = ("integration", "benchmarks", "docs", "interop", "js")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not stacks.PRODUCTION:
        return
    tests_root = Path(__file__).parent
    skip = pytest.mark.skip(
        reason="runs its own processes with their own settings (PostgreSQL/Redis where it "
        "needs them): the fast-stack run covers it (CG_TEST_STACK=production)"
    )
    for item in items:
        relative = Path(str(item.path)).relative_to(tests_root) if item.path else None
        if relative is not None and relative.parts and relative.parts[0] in OWN_PROCESS_FOLDERS:
            item.add_marker(skip)
        elif inspect.iscoroutinefunction(getattr(item, "function", None)):
            # Set up first (after its loop), so torn down after every other
            # fixture of the test and before the loop closes.
            item.fixturenames.insert(0, "_reap_lingering_tasks")  # type: ignore[attr-defined]


@pytest.fixture
async def _reap_lingering_tasks() -> AsyncIterator[None]:
    """Production stack: end what a test left running before its loop closes.

    A plain Channels consumer (``await_many_dispatch``) can lose a
    cancellation inside a channels_redis read (docs/RELIABILITY.md, known
    limits) and go on reading; pytest-asyncio cancels leftovers once and then
    waits for them, forever. Asking again until they end turns that hang into
    nothing, or into a teardown error after 30 s. Tests that must leave no
    task behind assert it themselves, before this runs.
    """
    yield
    current = asyncio.current_task()
    lingering = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    if lingering:
        await asyncio.wait_for(
            asyncio.gather(*(cancel_and_wait(task) for task in lingering)), timeout=30
        )


@pytest.fixture(autouse=True)
def _fresh_redis_layer_per_test() -> None:
    """Production stack: a new channels_redis layer object for each test.

    Each test has its own event loop, and a channels_redis layer object keeps
    per-loop state (its receive lock, connection pools): a test that ends
    with a receive still pending would leave the next test a lock "bound to a
    different event loop". Whether nothing outlives a connection is asserted
    by the tests about that, not left to break the next test.
    """
    if stacks.PRODUCTION:
        channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)


@pytest.fixture(
    params=stacks.CONNECTION_LIFETIMES, ids=lambda p: f"max_age={p[0]},health_checks={p[1]}"
)
def connection_lifetime(request: pytest.FixtureRequest) -> Any:
    """Run the test once per ``(CONN_MAX_AGE, CONN_HEALTH_CHECKS)`` pair worth proving."""
    previous = stacks.set_connection_lifetime(*request.param)
    yield request.param
    stacks.set_connection_lifetime(*previous)


@pytest.fixture
async def layer() -> AsyncIterator[InMemoryChannelLayer | InspectableRedisChannelLayer]:
    """The test stack's channel layer, empty before and after the test.

    In-memory on the fast stack; channels_redis on the production one, with
    the same ``groups`` and ``channels`` views (``tests/layers.py``)."""
    channel_layer = get_channel_layer()
    assert isinstance(channel_layer, InMemoryChannelLayer | InspectableRedisChannelLayer)
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
