"""Sync actions run in a bounded pool, so a slow one stalls nothing else."""

from __future__ import annotations

import asyncio
import threading

from gateway import Gateway
from gateway.testing import GatewayCommunicator
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.threads import action_executor, call_in_every_action_thread


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
