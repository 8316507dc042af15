"""Sync actions run in a bounded pool, so a slow one stalls nothing else."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from django.db import transaction
from rest_framework import permissions as drf_permissions

from gateway import Gateway
from gateway.testing import GatewayCommunicator
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.generics import GenericAsyncAPIConsumer
from streams.mixins import CreateModelMixin, DeleteModelMixin, PatchModelMixin
from streams.permissions import BasePermission
from streams.threads import (
    action_executor,
    await_from_thread,
    call_in_every_action_thread,
    run_in_action_thread,
)
from tests.streams.support import BookSerializer, make_books, make_user
from tests.testapp.models_streams import StreamsAuthor, StreamsBook


class Blocking(AsyncAPIConsumer):
    release: threading.Event

    @action()
    def block(self, **kwargs):
        assert type(self).release.wait(5)
        return threading.current_thread().name, 200

    @action()
    def quick(self, **kwargs):
        return threading.current_thread().name, 200


async def test_a_slow_sync_action_does_not_delay_sync_actions_of_other_streams():
    Blocking.release = threading.Event()
    client = GatewayCommunicator(Gateway.as_asgi(streams={"a": Blocking, "b": Blocking}))
    await client.connect()
    try:
        await client.send_to("a", {"action": "block", "request_id": "slow"})
        await asyncio.sleep(0.05)
        await client.send_to("b", {"action": "quick", "request_id": "fast"})
        fast = await client.receive_from("b", request_id="fast", timeout=2)
        assert client.buffered == []  # the slow reply has not come yet
        Blocking.release.set()
        slow = await client.receive_from("a", request_id="slow", timeout=2)
    finally:
        Blocking.release.set()
        await client.disconnect()
    assert fast["data"].startswith("streams-action") and slow["data"].startswith("streams-action")
    assert fast["data"] != slow["data"]


async def test_a_slow_sync_action_does_not_delay_other_connections():
    Blocking.release = threading.Event()
    app = Gateway.as_asgi(streams={"s": Blocking})
    first, second = GatewayCommunicator(app), GatewayCommunicator(app)
    await first.connect()
    await second.connect()
    try:
        await first.send_to("s", {"action": "block", "request_id": 1})
        await asyncio.sleep(0.05)
        await second.send_to("s", {"action": "quick", "request_id": 2})
        assert (await second.receive_from("s", timeout=2))["response_status"] == 200
    finally:
        Blocking.release.set()
        await first.receive_from("s", timeout=2)
        await first.disconnect()
        await second.disconnect()


def test_call_in_every_action_thread_reaches_each_thread():
    seen: set[str] = set()
    lock = threading.Lock()

    def record() -> None:
        with lock:
            seen.add(threading.current_thread().name)

    call_in_every_action_thread(record)
    assert len(seen) == action_executor()._max_workers
    assert all(name.startswith("streams-action") for name in seen)


# ------------------------------------------- async code awaited inside atomic actions
# An async permission hook checked inside an atomic action is awaited from the
# action thread; its database_sync_to_async calls come back to that thread, on
# the transaction's connection, wrapped in Channels' close_old_connections. On
# PostgreSQL that closed the open transaction's connection (503, "the
# connection is closed"); SQLite's in-memory database ignores closes, so the
# production stack (CG_TEST_STACK=production) is where these tests bite.


class OwnerlessOnly(BasePermission):
    """An async object permission that reads the database, the way DCRF's docs show."""

    message = "Only books without an owner."

    async def has_object_permission(self, scope, consumer, action, obj, **kwargs):
        query = StreamsBook.objects.filter(pk=obj.pk, owner__isnull=True).exists
        return await database_sync_to_async(query)()


class GuardedBooks(CreateModelMixin, PatchModelMixin, DeleteModelMixin, GenericAsyncAPIConsumer):
    queryset = StreamsBook.objects.all()
    serializer_class = BookSerializer
    permission_classes = [drf_permissions.IsAuthenticated, OwnerlessOnly]


@pytest.fixture
def reader(transactional_db):
    return make_user("reader")


@pytest.mark.django_db(transaction=True)
async def test_async_permissions_reading_the_database_work_inside_atomic_actions(
    connection_lifetime, reader
):
    books = await sync_to_async(make_books)(2)
    owned = books[1]
    owned.owner = reader
    await sync_to_async(owned.save)()
    client = GatewayCommunicator(
        Gateway.as_asgi(streams={"books": GuardedBooks}), scope={"user": reader}
    )
    await client.connect()
    try:
        for round_ in range(2):  # the second round reuses (or reopens) the thread's connection
            await client.send_to(
                "books",
                {
                    "action": "patch",
                    "pk": books[0].pk,
                    "data": {"pages": 7 + round_},
                    "request_id": "p",
                },
            )
            patched = await client.receive_from("books", request_id="p", timeout=5)
            assert patched["response_status"] == 200, patched
            assert patched["data"]["pages"] == 7 + round_
        await client.send_to(
            "books", {"action": "patch", "pk": owned.pk, "data": {}, "request_id": "o"}
        )
        refused = await client.receive_from("books", request_id="o", timeout=5)
        assert (refused["response_status"], refused["errors"]) == (403, [OwnerlessOnly.message])
        await client.send_to("books", {"action": "delete", "pk": books[0].pk, "request_id": "d"})
        deleted = await client.receive_from("books", request_id="d", timeout=5)
        assert deleted["response_status"] == 204, deleted
    finally:
        await client.disconnect()
    remaining = await sync_to_async(
        lambda: sorted(StreamsBook.objects.values_list("pk", flat=True))
    )()
    assert remaining == [owned.pk]


@pytest.mark.django_db(transaction=True)
def test_a_transaction_survives_async_code_awaited_from_its_thread(connection_lifetime):
    """``await_from_thread`` inside ``transaction.atomic()``: the work before and
    after it commits together, on one connection that stays open."""

    async def count_authors():
        return await database_sync_to_async(StreamsAuthor.objects.count)()

    def in_thread():
        with transaction.atomic():
            StreamsAuthor.objects.create(name="before")
            seen = await_from_thread(count_authors())
            StreamsAuthor.objects.create(name="after")
        return seen

    assert async_to_sync(run_in_action_thread)(in_thread) == 1
    assert sorted(StreamsAuthor.objects.values_list("name", flat=True)) == ["after", "before"]
