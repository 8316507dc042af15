"""streams.errors over the wire: how failures become error frames.

Most statuses are covered where they arise (tests/streams/test_consumers.py,
test_mixins.py, tests/security/); this module covers the faults of the
server's own dependencies: a database that is down or drops the connection
answers 503 (retry later), not a 500, and the socket and the other streams
live on and work again once the database is back.

The faults are simulated on either stack; on the production stack
(``CG_TEST_STACK=production``) a real PostgreSQL server also cancels a slow
statement and drops a connection in the middle of an action.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
import pytest
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from gateway import Gateway
from gateway.testing import GatewayCommunicator
from streams import mixins
from streams.decorators import action
from streams.errors import UNAVAILABLE_MESSAGE
from streams.generics import GenericAsyncAPIConsumer
from streams.settings import api_settings
from tests.stacks import postgres_only
from tests.streams.support import BookSerializer, EchoConsumer, make_books
from tests.testapp.models_streams import StreamsBook


class BookConsumer(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericAsyncAPIConsumer):
    queryset = StreamsBook.objects.all()
    serializer_class = BookSerializer

    @action()
    async def count(self, **kwargs: Any) -> tuple[int, int]:
        """An async action using the ORM's async API (it runs on the database thread)."""
        return await StreamsBook.objects.acount(), 200

    @action()
    def slow_query(self, **kwargs: Any) -> tuple[Any, int]:
        """A query the server gives up on: PostgreSQL cancels it after 200 ms."""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = '200ms'")
            cursor.execute("SELECT pg_sleep(10)")
        return None, 200

    @action()
    def backend_pid(self, **kwargs: Any) -> tuple[int, int]:
        """The PostgreSQL server process behind this action thread's connection."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0], 200

    @action()
    def dropped_mid_action(self, **kwargs: Any) -> tuple[Any, int]:
        """The server ends this action's connection between two of its queries,
        as a restart or an administrator's ``pg_terminate_backend`` does."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        db = connection.settings_dict
        with psycopg.connect(
            host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True
        ) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        return list(StreamsBook.objects.values_list("pk", flat=True)), 200


class Site(Gateway):
    streams = {"books": BookConsumer, "echo": EchoConsumer}


@pytest.fixture
def books(transactional_db: Any) -> list[StreamsBook]:
    return make_books(2)


@pytest.fixture
async def client() -> Any:
    communicator = GatewayCommunicator(Site.as_asgi(), "/ws/")
    assert (await communicator.connect())[0]
    yield communicator
    await communicator.disconnect()


REQUESTS = [
    {"action": "list", "request_id": "sync-list"},
    {"action": "retrieve", "pk": 1, "request_id": "sync-retrieve"},
    {"action": "count", "request_id": "async-count"},
]


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("could not connect to server: Connection refused"),
        InterfaceError("connection already closed"),
    ],
    ids=["operational-error", "interface-error"],
)
async def test_database_down_is_503_and_the_socket_lives(
    client: GatewayCommunicator, books: Any, monkeypatch: Any, caplog: Any, error: Exception
) -> None:
    def unreachable(self: BaseDatabaseWrapper) -> None:
        raise error

    # Every query of every connection now fails the way a dead server makes it fail.
    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", unreachable)
    with caplog.at_level(logging.ERROR, logger="streams.consumers"):
        for payload in REQUESTS:
            await client.send_to("books", payload)
            reply = await client.receive_from("books", request_id=payload["request_id"], timeout=2)
            assert reply == {
                "errors": [UNAVAILABLE_MESSAGE],
                "data": None,
                "action": payload["action"],
                "response_status": 503,
                "request_id": payload["request_id"],
            }
        # Other streams keep working meanwhile.
        await client.send_to("echo", {"action": "echo", "request_id": "bystander"})
        assert (await client.receive_from("echo", request_id="bystander"))["response_status"] == 200
    # The driver's message stays in the server log, not in the frame.
    assert str(error) in caplog.text
    monkeypatch.undo()

    # The database is back: the same socket is served again.
    await client.send_to("books", {"action": "list", "request_id": "back"})
    reply = await client.receive_from("books", request_id="back", timeout=2)
    assert reply["response_status"] == 200 and len(reply["data"]) == 2


async def test_queued_requests_each_get_503(
    client: GatewayCommunicator, books: Any, monkeypatch: Any
) -> None:
    """Frames served together in one database-thread batch each get their own 503."""

    def unreachable(self: BaseDatabaseWrapper) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", unreachable)
    for index in range(20):
        await client.send_to("books", {"action": "list", "request_id": index})
    for index in range(20):
        reply = await client.receive_from("books", request_id=index, timeout=2)
        assert reply["response_status"] == 503
    await client.assert_no_frames()
    # Before the database fixtures' teardown, which needs the database.
    monkeypatch.undo()


@postgres_only
@pytest.mark.django_db(transaction=True)
async def test_a_statement_timeout_is_503_and_delays_no_other_stream(
    client: GatewayCommunicator, books: Any, caplog: Any
) -> None:
    with caplog.at_level(logging.ERROR, logger="streams.consumers"):
        await client.send_to("books", {"action": "slow_query", "request_id": "slow"})
        # The slow statement holds one action thread; another stream is served meanwhile.
        await client.send_to("echo", {"action": "echo", "request_id": "bystander"})
        first = await client.receive_frame(timeout=2)
        assert (first["stream"], first["payload"]["request_id"]) == ("echo", "bystander")
        reply = await client.receive_from("books", request_id="slow", timeout=5)
    assert reply == {
        "errors": [UNAVAILABLE_MESSAGE],
        "data": None,
        "action": "slow_query",
        "response_status": 503,
        "request_id": "slow",
    }
    assert "statement timeout" in caplog.text
    # The transaction was rolled back and its connection is usable: served at once.
    await client.send_to("books", {"action": "retrieve", "pk": books[0].pk, "request_id": "after"})
    assert (await client.receive_from("books", request_id="after", timeout=2))[
        "response_status"
    ] == 200


@postgres_only
@pytest.mark.django_db(transaction=True)
async def test_a_connection_the_server_drops_is_503_then_replaced(
    connection_lifetime: Any, client: GatewayCommunicator, books: Any
) -> None:
    """With any connection lifetime, a connection PostgreSQL ended is discarded
    after the failed action, never handed to the next request."""
    await client.send_to("books", {"action": "dropped_mid_action", "request_id": "dropped"})
    reply = await client.receive_from("books", request_id="dropped", timeout=5)
    assert (reply["response_status"], reply["errors"]) == (503, [UNAVAILABLE_MESSAGE])
    for index in range(api_settings.ACTION_THREADS * 2):
        await client.send_to("books", {"action": "list", "request_id": index})
        assert (await client.receive_from("books", request_id=index, timeout=5))[
            "response_status"
        ] == 200
    # Other requests keep working on the same socket, on fresh connections.
    await client.send_to("echo", {"action": "echo", "request_id": "bystander"})
    assert (await client.receive_from("echo", request_id="bystander"))["response_status"] == 200
