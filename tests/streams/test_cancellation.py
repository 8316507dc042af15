"""Nothing outlives its connection, even when a cancellation gets lost.

``streams.cancellation.cancel_and_wait`` asks again until a task has ended
(its unit tests: tests/gateway/test_cancellation.py); the churn test drives 1,000 connections through subscribe and close (clean,
abrupt, and cancelled by the server) and then finds no group membership, no
receive buffer and no task left. Its proof is the production stack
(``CG_TEST_STACK=production``, channels_redis), where redis-py on Python 3.11
can swallow a cancellation that lands during a command and channels_redis
blocks 5 s in each read: there a consumer used to outlive its socket, keep
its groups and log a layer outage it took for the cancellation.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from gateway import Gateway
from gateway.testing import GatewayCommunicator
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from tests.gateway.helpers import live_tasks
from tests.streams.observer.support import (
    ClassroomConsumer,
    ItemConsumer,
    UuidItemConsumer,
    db,
)
from tests.testapp.models_observer import ObsItem, ObsUuidItem


# ----------------------------------------------------------------------- churn
class Sleeper(AsyncAPIConsumer):
    @action(detached=True)
    async def nap(self, **kwargs: Any) -> None:
        await asyncio.sleep(60)


CHURN_APP = Gateway.as_asgi(
    streams={
        "items": ItemConsumer,
        "uuids": UuidItemConsumer,
        "classrooms": ClassroomConsumer,
        "sleeper": Sleeper,
    }
)


async def churn_cycle(index: int, item: ObsItem, uuid_item: ObsUuidItem) -> None:
    client = GatewayCommunicator(CHURN_APP, "/ws/")
    connected, detail = await client.connect()
    assert connected, detail
    requests = [
        ("items", {"action": "subscribe_instance", "pk": item.pk}),
        ("items", {"action": "subscribe_list", "color": f"c{index % 5}"}),
        ("uuids", {"action": "subscribe_instance", "pk": str(uuid_item.pk)}),
        ("classrooms", {"action": "subscribe_school", "school": index % 9}),
    ]
    for request_id, (stream, payload) in enumerate(requests):
        await client.send_to(stream, {**payload, "request_id": request_id})
        # Generous: fifty connections subscribe at once on a shared machine.
        reply = await client.receive_from(stream, request_id=request_id, timeout=30)
        assert reply["response_status"] == 201, reply
    await client.send_to("sleeper", {"action": "nap", "request_id": "nap"})
    mode = index % 3
    if mode == 0:
        await client.disconnect(1000)  # a clean close
    elif mode == 1:
        await client.disconnect(1006)  # the client vanished (no close frame)
    else:
        # The server gave up on the application: its task is cancelled.
        task = client._require_task()
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
async def test_a_thousand_subscribe_and_close_cycles_leave_no_membership_and_no_task(layer):
    item = await db(ObsItem.objects.create)(name="watched", color="c1")
    uuid_item = await db(ObsUuidItem.objects.create)(name="watched too")
    before = live_tasks()
    for wave in range(0, 1000, 50):
        await asyncio.gather(
            *(churn_cycle(index, item, uuid_item) for index in range(wave, wave + 50))
        )
    deadline = time.monotonic() + 10
    while True:
        left = (layer.groups, layer.channels, live_tasks() - before)
        if left == ({}, {}, set()) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    groups, channels, tasks = left
    assert groups == {}, f"{len(groups)} group(s) still have members"
    assert channels == {}, f"{len(channels)} receive buffer(s) left"
    assert tasks == set(), f"{len(tasks)} task(s) left: {sorted(map(repr, tasks))[:5]}"
