"""streams.errors over the wire: how failures become error frames.

Most statuses are covered where they arise (tests/streams/test_consumers.py,
test_mixins.py, tests/security/); this module covers the faults of the
server's own dependencies: a database that is down or drops the connection
answers 503 (retry later), not a 500, and the socket and the other streams
live on and work again once the database is back.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.db import InterfaceError, OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper

from gateway import Gateway
from gateway.testing import GatewayCommunicator
from streams import mixins
from streams.decorators import action
from streams.errors import UNAVAILABLE_MESSAGE
from streams.generics import GenericAsyncAPIConsumer
from tests.streams.support import BookSerializer, make_books
from tests.streams.test_consumers import EchoConsumer
from tests.testapp.models_streams import StreamsBook


class BookConsumer(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericAsyncAPIConsumer):
    queryset = StreamsBook.objects.all()
    serializer_class = BookSerializer

    @action()
    async def count(self, **kwargs: Any) -> tuple[int, int]:
        """An async action using the ORM's async API (it runs on the database thread)."""
        return await StreamsBook.objects.acount(), 200


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
