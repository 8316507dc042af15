"""FrameWorkerMixin: frames served in order by one worker, queued sync actions batched into
one thread hop with per-call errors and permissions, channel events served meanwhile."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from rest_framework.exceptions import ValidationError

from gateway import Gateway
from gateway.testing import GatewayCommunicator
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.permissions import BasePermission
from tests.conftest import request
from tests.streams.support import EchoConsumer, reply


@pytest.mark.django_db
async def test_sync_action_runs_in_thread(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"action": "sync_action", "value": 21, "request_id": 1})
    assert got == reply(42, "sync_action", 201, 1)


async def test_replies_keep_request_order(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    await comm.send_json_to({"action": "slow", "request_id": 1})
    await comm.send_json_to({"action": "echo", "request_id": 2})
    first = await comm.receive_json_from()
    second = await comm.receive_json_from()
    assert [first["request_id"], second["request_id"]] == [1, 2]


# ------------------------------------------------------------------ batching
# Under the gateway, frames already queued for a stream are served together:
# consecutive sync actions run in one database-thread hop. These tests pin the
# observable contract: same replies, same order, per-call errors and
# permissions, and overrides of the message hooks still run for every frame.


class OddDenied(BasePermission):
    def has_permission(self, scope, consumer, action, **kwargs):
        return kwargs.get("n", 0) != 13


class BatchConsumer(AsyncAPIConsumer):
    permission_classes = (OddDenied,)
    release: threading.Event
    batch_sizes: list[int]

    @action()
    def wait(self, **kwargs):
        assert type(self).release.wait(5)
        return "released", 200

    @action()
    def double(self, n, **kwargs):
        if n == 7:
            raise ValidationError({"n": ["not seven"]})
        return n * 2, 200

    @action()
    async def ping(self, **kwargs):
        return "pong", 200

    def _run_sync_calls(self, calls):
        type(self).batch_sizes.append(len(calls))
        return super()._run_sync_calls(calls)


async def _queue_behind_blocked_action(consumer_class, frames):
    consumer_class.release = threading.Event()
    consumer_class.batch_sizes = []
    client = GatewayCommunicator(Gateway.as_asgi(streams={"s": consumer_class}))
    await client.connect()
    await client.send_to("s", {"action": "wait", "request_id": "w"})
    await asyncio.sleep(0.05)  # the stream is now inside "wait", in the thread
    for payload in frames:
        await client.send_to("s", payload)
    await asyncio.sleep(0.05)
    consumer_class.release.set()
    return client


async def test_queued_sync_actions_run_in_one_batch_in_order():
    frames = [{"action": "double", "n": n, "request_id": n} for n in range(10)]
    client = await _queue_behind_blocked_action(BatchConsumer, frames)
    assert (await client.receive_from("s"))["request_id"] == "w"
    replies = [await client.receive_from("s") for _ in range(10)]
    await client.disconnect()
    assert [r["request_id"] for r in replies] == list(range(10))
    assert [r["data"] for r in replies if r["response_status"] == 200] == [
        n * 2 for n in range(10) if n != 7
    ]
    assert BatchConsumer.batch_sizes == [1, 10]


async def test_errors_and_permissions_stay_per_call_inside_a_batch():
    frames = [
        {"action": "double", "n": 1, "request_id": 1},
        {"action": "double", "n": 7, "request_id": 2},  # validation error
        {"action": "double", "n": 13, "request_id": 3},  # permission denied
        {"action": "nope", "request_id": 4},  # 405, served on its own
        {"action": "ping", "request_id": 5},  # async, served on its own
        {"action": "double", "n": 2, "request_id": 6},
    ]
    client = await _queue_behind_blocked_action(BatchConsumer, frames)
    await client.receive_from("s", request_id="w")
    replies = [await client.receive_from("s") for _ in range(6)]
    await client.disconnect()
    assert [(r["request_id"], r["response_status"]) for r in replies] == [
        (1, 200),
        (2, 400),
        (3, 403),
        (4, 405),
        (5, 200),
        (6, 200),
    ]
    assert replies[1]["errors"] == [{"n": ["not seven"]}]
    assert BatchConsumer.batch_sizes == [1, 3, 1]


class OverridingConsumer(BatchConsumer):
    seen: list[Any] = []

    async def receive_json(self, content, **kwargs):
        type(self).seen.append(content.get("request_id"))
        await super().receive_json(content, **kwargs)


async def test_subclass_overriding_message_hooks_sees_every_frame():
    OverridingConsumer.seen = []
    frames = [{"action": "double", "n": n, "request_id": n} for n in range(3)]
    client = await _queue_behind_blocked_action(OverridingConsumer, frames)
    for expected in ["w", 0, 1, 2]:
        assert (await client.receive_from("s"))["request_id"] == expected
    await client.disconnect()
    assert OverridingConsumer.seen == ["w", 0, 1, 2]
    assert OverridingConsumer.batch_sizes == []  # the usual path, one hop per frame


# ------------------------------------------- events while an action is running


class SlowWithEvents(AsyncAPIConsumer):
    groups = ["slow-news"]
    release: threading.Event

    @action()
    def slow(self, **kwargs):
        assert type(self).release.wait(5)
        return "done", 200

    async def news_message(self, event):
        await self.reply(action="news", data=event["text"])


async def test_channel_events_are_not_held_up_by_a_slow_action(communicator):
    from channels.layers import get_channel_layer

    SlowWithEvents.release = threading.Event()
    comm = await communicator(SlowWithEvents.as_asgi())
    await comm.send_json_to({"action": "slow", "request_id": 1})
    await asyncio.sleep(0.05)  # "slow" is now running in the database thread
    await get_channel_layer().group_send("slow-news", {"type": "news.message", "text": "hi"})
    first = await comm.receive_json_from(timeout=2)
    SlowWithEvents.release.set()
    second = await comm.receive_json_from(timeout=2)
    assert (first["action"], first["data"]) == ("news", "hi")
    assert (second["request_id"], second["data"]) == (1, "done")


async def test_disconnect_mid_action_cancels_the_frame_worker():
    from channels.testing import WebsocketCommunicator

    SlowWithEvents.release = threading.Event()
    comm = WebsocketCommunicator(SlowWithEvents.as_asgi(), "/")
    assert (await comm.connect())[0]
    await comm.send_json_to({"action": "slow", "request_id": 1})
    await asyncio.sleep(0.05)
    await comm.disconnect()  # returns although "slow" has not finished
    SlowWithEvents.release.set()
