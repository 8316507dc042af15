"""gateway.shutdown in process: draining connections before a restart.

What a client sees: the reply to the request it had in flight, then close 1012;
503 error frames for requests sent during the drain; 1012 right after the
handshake for a socket opened during it. What the server does: gives requests
at most the grace, leaves the streams' groups, hands the signal on to the
server's own handler once drained. The same against a real uvicorn process:
tests/integration/test_shutdown_server.py."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gateway import Gateway, shutdown
from gateway.gateway import RESTARTING
from gateway.testing import GatewayCommunicator
from tests.integration.ops_consumers import SlowConsumer


class SlowGateway(Gateway):
    streams = {"slow": SlowConsumer}


@pytest.fixture(autouse=True)
def fresh_process_state() -> Iterator[None]:
    shutdown.reset()
    yield
    shutdown.reset()


async def started(comm: GatewayCommunicator, payload: dict[str, Any]) -> None:
    await comm.send_to("slow", payload)
    await asyncio.sleep(0.05)  # let the action start before the drain


async def test_the_request_in_flight_is_answered_then_the_socket_closes_1012():
    async with GatewayCommunicator(SlowGateway.as_asgi()) as comm:
        await started(comm, {"action": "wait", "seconds": 0.3, "request_id": 1})
        drain = asyncio.create_task(shutdown.drain())
        reply = await comm.receive_from("slow", request_id=1, timeout=5)
        assert reply["response_status"] == 200
        assert reply["data"] == {"slept": 0.3}
        assert await comm.receive_close(timeout=5) == 1012
        await asyncio.wait_for(drain, 10)


async def test_requests_sent_during_the_drain_are_refused_503():
    async with GatewayCommunicator(SlowGateway.as_asgi()) as comm:
        await started(comm, {"action": "wait", "seconds": 0.5, "request_id": 1})
        drain = asyncio.create_task(shutdown.drain())
        await asyncio.sleep(0.05)
        await comm.send_to("slow", {"action": "wait", "seconds": 0, "request_id": 2})
        refused = await comm.receive_from("slow", request_id=2, timeout=5)
        assert refused["response_status"] == 503
        assert refused["errors"] == [RESTARTING]
        assert (await comm.receive_from("slow", request_id=1, timeout=5))["response_status"] == 200
        assert await comm.receive_close(timeout=5) == 1012
        await asyncio.wait_for(drain, 10)


async def test_a_socket_opened_during_the_drain_is_closed_1012_at_once():
    await shutdown.drain()
    assert shutdown.draining()
    comm = GatewayCommunicator(SlowGateway.as_asgi())
    connected, _ = await comm.connect()
    assert connected
    assert await comm.receive_close() == 1012
    await comm.disconnect()


async def test_a_request_past_the_grace_is_cut_and_the_socket_closes_1012():
    app = SlowGateway.as_asgi(shutdown_grace=0.2)
    async with GatewayCommunicator(app) as comm:
        await started(comm, {"action": "wait", "seconds": 30, "request_id": 1})
        begun = time.monotonic()
        drain = asyncio.create_task(shutdown.drain())
        assert await comm.receive_close(timeout=5) == 1012
        assert time.monotonic() - begun < 5
        await asyncio.wait_for(drain, 10)
        # The action was cut: no reply came before the close, and none after.
        assert comm.buffered == []


async def test_grace_given_to_drain_overrides_the_option():
    async with GatewayCommunicator(SlowGateway.as_asgi()) as comm:  # option: 10 s
        await started(comm, {"action": "wait", "seconds": 30, "request_id": 1})
        drain = asyncio.create_task(shutdown.drain(grace=0.1))
        assert await comm.receive_close(timeout=5) == 1012
        await asyncio.wait_for(drain, 10)


async def test_an_idle_connection_closes_1012_without_waiting():
    async with GatewayCommunicator(SlowGateway.as_asgi()) as comm:
        reply = {"action": "wait", "seconds": 0, "request_id": "r"}
        await comm.send_to("slow", reply)
        assert (await comm.receive_from("slow", request_id="r"))["response_status"] == 200
        begun = time.monotonic()
        drain = asyncio.create_task(shutdown.drain())
        assert await comm.receive_close(timeout=5) == 1012
        assert time.monotonic() - begun < 2
        await asyncio.wait_for(drain, 10)


async def test_an_unmatchable_request_id_does_not_hold_the_drain():
    # A JSON array as request_id cannot be remembered: the drain does not wait for it.
    async with GatewayCommunicator(SlowGateway.as_asgi()) as comm:
        await started(comm, {"action": "wait", "seconds": 30, "request_id": [1, 2]})
        begun = time.monotonic()
        drain = asyncio.create_task(shutdown.drain())
        assert await comm.receive_close(timeout=5) == 1012
        assert time.monotonic() - begun < 2
        await asyncio.wait_for(drain, 10)


async def test_drained_streams_leave_their_groups(layer):
    async with GatewayCommunicator(SlowGateway.as_asgi()) as comm:
        await comm.send_to("slow", {"action": "join", "group": "room", "request_id": 1})
        assert (await comm.receive_from("slow", request_id=1))["response_status"] == 200
        assert layer.groups.get("room")
        drain = asyncio.create_task(shutdown.drain())
        assert await comm.receive_close(timeout=5) == 1012
        await asyncio.wait_for(drain, 10)
    assert not layer.groups.get("room")


def test_shutdown_grace_must_be_positive():
    with pytest.raises(ValueError, match="shutdown_grace must be a positive number"):
        SlowGateway.as_asgi(shutdown_grace=0)


async def test_the_signal_drains_then_goes_to_the_previous_handler():
    received: list[int] = []
    forwarded = asyncio.Event()
    loop = asyncio.get_running_loop()

    def server_handler(signum: int, frame: Any) -> None:
        received.append(signum)
        loop.call_soon_threadsafe(forwarded.set)

    previous = signal.signal(signal.SIGUSR1, server_handler)
    try:
        shutdown.install_signal_handlers([signal.SIGUSR1])
        async with GatewayCommunicator(SlowGateway.as_asgi()) as comm:
            await started(comm, {"action": "wait", "seconds": 0.3, "request_id": 1})
            os.kill(os.getpid(), signal.SIGUSR1)
            reply = await comm.receive_from("slow", request_id=1, timeout=5)
            assert reply["response_status"] == 200
            assert received == []  # not before the drain is done
            assert await comm.receive_close(timeout=5) == 1012
            await asyncio.wait_for(forwarded.wait(), 10)
        assert received == [signal.SIGUSR1]
    finally:
        signal.signal(signal.SIGUSR1, previous)


async def test_lifespan_installs_the_handlers_and_shutdown_drains():
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGUSR2,)}
    wrapped = shutdown.GracefulShutdown(SlowGateway.as_asgi(), signals=[signal.SIGUSR2])
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    lifespan = asyncio.create_task(
        wrapped({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put)
    )
    try:
        await inbox.put({"type": "lifespan.startup"})
        assert (await asyncio.wait_for(outbox.get(), 5))["type"] == "lifespan.startup.complete"
        assert getattr(signal.getsignal(signal.SIGUSR2), "gateway_drain", False)
        async with GatewayCommunicator(wrapped) as comm:
            await started(comm, {"action": "wait", "seconds": 0.2, "request_id": 1})
            await inbox.put({"type": "lifespan.shutdown"})
            assert (await comm.receive_from("slow", request_id=1, timeout=5))["data"]
            assert await comm.receive_close(timeout=5) == 1012
            done = await asyncio.wait_for(outbox.get(), 10)
            assert done["type"] == "lifespan.shutdown.complete"
        await asyncio.wait_for(lifespan, 5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
