"""GatewayCommunicator: the test client users get."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway import Gateway
from gateway.testing import GatewayClosed, GatewayCommunicator
from tests import stacks
from tests.gateway.consumers import EchoConsumer, RefusingConsumer

APP = Gateway.as_asgi(streams={"a": EchoConsumer, "b": EchoConsumer})


async def test_receive_timeout_does_not_cancel_the_application(open_socket):
    client = await open_socket(APP)
    with pytest.raises(TimeoutError, match="stream='a'"):
        await client.receive_from("a", timeout=0.05)
    await client.send_to("a", {"request_id": 1})
    assert (await client.receive_from("a"))["request_id"] == 1


async def test_frames_that_do_not_match_are_kept(open_socket):
    client = await open_socket(APP)
    await client.send_to("a", {"request_id": 1})
    await client.send_to("b", {"request_id": 2})
    await client.send_to("a", {"request_id": 3})
    assert (await client.receive_from("a", request_id=3))["request_id"] == 3
    assert [f["payload"]["request_id"] for f in client.buffered] == [1, 2]
    assert (await client.receive_from("b"))["request_id"] == 2
    assert (await client.receive_from())["request_id"] == 1
    await client.assert_no_frames()


async def test_assert_no_frames_fails_on_a_frame(open_socket):
    client = await open_socket(APP)
    await client.send_to("a", {"request_id": 1})
    with pytest.raises(AssertionError, match="Expected no frames"):
        await client.assert_no_frames(0.05)


@pytest.mark.skipif(
    stacks.PRODUCTION,
    reason="EchoConsumer is a plain Channels consumer: on channels_redis its own loop "
    "(Channels' await_many_dispatch) can lose the cancellation in redis-py and stall 5 s "
    "at close, which streams.cancellation fixes only for AsyncAPIConsumer (issue 10)",
)
async def test_receive_close_and_closed_errors(open_socket):
    client = await open_socket(Gateway.as_asgi(streams={"a": EchoConsumer}))
    await client.send_to("a", {"action": "close"})
    assert await client.receive_close() == 1000
    with pytest.raises(GatewayClosed) as info:
        await client.receive_from("a", timeout=0.1)
    assert info.value.code == 1000


async def test_context_manager_connects_and_disconnects():
    async with GatewayCommunicator(APP, "/ws/") as client:
        await client.send_to("a", {"request_id": 1})
        assert (await client.receive_from("a"))["request_id"] == 1
    assert client._require_task().done()


async def test_context_manager_raises_when_refused():
    from gateway import AsyncJsonWebsocketDemultiplexer

    app = AsyncJsonWebsocketDemultiplexer.as_asgi(a=RefusingConsumer)
    with pytest.raises(GatewayClosed, match="refused the connection"):
        async with GatewayCommunicator(app, "/ws/"):
            pass


async def test_disconnect_reraises_application_errors():
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise RuntimeError("app bug")

    client = GatewayCommunicator(broken, "/ws/")
    assert (await client.connect())[0]
    with pytest.raises(RuntimeError, match="app bug"):
        await client.disconnect()


async def test_application_errors_surface_on_receive():
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        raise RuntimeError("app bug")

    client = GatewayCommunicator(broken, "/ws/")
    await client.connect()
    with pytest.raises(RuntimeError, match="app bug"):
        await client.receive_frame(timeout=0.5)


async def test_disconnect_times_out_on_a_stuck_application():
    async def stuck(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await asyncio.sleep(30)

    client = GatewayCommunicator(stuck, "/ws/")
    await client.connect()
    with pytest.raises(TimeoutError, match="did not finish"):
        await client.disconnect(timeout=0.05)


async def test_max_unread_blocks_the_application_send():
    sent: list[int] = []

    async def chatty(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        for index in range(10):
            await send({"type": "websocket.send", "text": f'{{"n": {index}}}'})
            sent.append(index)
        await receive()

    client = GatewayCommunicator(chatty, "/ws/", max_unread=3)
    await client.connect()
    await asyncio.sleep(0.02)
    assert len(sent) == 3  # blocked: the client is not reading
    assert (await client.receive_frame())["n"] == 0
    await asyncio.sleep(0.01)
    assert len(sent) == 4
    await client.disconnect()


async def test_misuse_is_explained():
    client = GatewayCommunicator(APP, "/ws/?token=1")
    assert client.scope["query_string"] == b"token=1"
    with pytest.raises(RuntimeError, match="connect"):
        await client.send_raw("x")
    await client.connect()
    with pytest.raises(RuntimeError, match="already called"):
        await client.connect()
    await client.disconnect()
