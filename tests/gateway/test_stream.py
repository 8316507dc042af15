"""A stream's life on one connection: refusal, self-close, crash, timeout, cleanup."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from gateway import Gateway
from gateway.testing import GatewayCommunicator
from tests.gateway.consumers import (
    EchoConsumer,
    JsonEchoConsumer,
    RaisingConsumer,
    RefusingConsumer,
    SilentConsumer,
)
from tests.gateway.helpers import assert_error, live_tasks


def app_with(**streams: Any) -> Any:
    options = streams.pop("options", {})
    return Gateway.as_asgi(streams={"ok": JsonEchoConsumer, **streams}, **options)


async def assert_ok_still_works(client: GatewayCommunicator) -> None:
    await client.send_to("ok", {"action": "ping", "request_id": "ok?"})
    assert (await client.receive_from("ok", request_id="ok?"))["response_status"] == 200


async def test_refused_stream_answers_403_and_others_keep_working(open_socket):
    client = await open_socket(app_with(private=RefusingConsumer))
    # Frames sent before the refusal is known are answered too, in order.
    for index in range(3):
        await client.send_to("private", {"action": "list", "request_id": index})
    for index in range(3):
        payload = await client.receive_from("private", request_id=index)
        message = assert_error(payload, 403, "list", index)
        assert message == "Stream 'private' refused the connection."
    await assert_ok_still_works(client)
    await client.send_to("private", {"action": "list", "request_id": "later"})
    assert_error(await client.receive_from("private"), 403, "list", "later")


async def test_stream_raising_in_connect_is_refused_and_logged(open_socket, caplog):
    client = await open_socket(app_with(broken=RaisingConsumer))
    with caplog.at_level(logging.ERROR, logger="gateway"):
        await client.send_to("broken", {"action": "list", "request_id": 1})
        assert_error(await client.receive_from("broken"), 403, "list", 1)
    assert "stream 'broken' failed while connecting" in caplog.text
    assert "boom (test crash in connect)" in caplog.text  # the traceback is logged
    await assert_ok_still_works(client)


async def test_stream_that_never_accepts_is_refused_after_the_timeout(open_socket):
    client = await open_socket(
        app_with(silent=SilentConsumer, options={"stream_connect_timeout": 0.1})
    )
    started = time.monotonic()
    await client.send_to("silent", {"action": "list", "request_id": 1})
    await assert_ok_still_works(client)
    assert_error(await client.receive_from("silent", timeout=1), 403, "list", 1)
    assert 0.08 < time.monotonic() - started < 0.9


async def test_stream_that_closes_itself_answers_410_afterwards(open_socket):
    client = await open_socket(app_with(closing=EchoConsumer))
    await client.send_to("closing", {"action": "ping", "request_id": 1})
    await client.receive_from("closing", request_id=1)
    await client.send_to("closing", {"action": "close", "request_id": 2})
    await client.send_to("closing", {"action": "ping", "request_id": 3})
    message = assert_error(await client.receive_from("closing", request_id=3), 410, "ping", 3)
    assert message == "Stream 'closing' is closed."
    await assert_ok_still_works(client)
    assert client.close_code is None


async def test_socket_closes_once_every_stream_has_closed(open_socket):
    client = await open_socket(Gateway.as_asgi(streams={"a": RefusingConsumer, "b": EchoConsumer}))
    await client.send_to("a", {"action": "x", "request_id": 1})
    assert_error(await client.receive_from("a"), 403, "x", 1)
    await client.send_to("b", {"action": "close"})
    assert await client.receive_close() == 1000


async def test_crash_in_an_action_answers_500_then_the_stream_is_closed(open_socket, layer, caplog):
    client = await open_socket(app_with(fragile=EchoConsumer))
    await client.send_to("fragile", {"action": "join", "group": "g", "request_id": 1})
    await client.receive_from("fragile", request_id=1)
    assert "g" in layer.groups
    with caplog.at_level(logging.ERROR, logger="gateway"):
        await client.send_to("fragile", {"action": "crash", "request_id": 2})
        payload = await client.receive_from("fragile", request_id=2)
    assert assert_error(payload, 500, "crash", 2) == "Internal server error."
    assert "boom" not in str(payload)  # no traceback for the client
    assert "stream 'fragile' failed while handling a message" in caplog.text
    await client.send_to("fragile", {"action": "ping", "request_id": 3})
    assert_error(await client.receive_from("fragile", request_id=3), 410, "ping", 3)
    # The crashed consumer's disconnect handling still ran: it left its group.
    for _ in range(50):
        if not layer.groups:
            break
        await asyncio.sleep(0.01)
    assert layer.groups == {}
    await assert_ok_still_works(client)


async def test_disconnect_mid_action_cancels_and_cleans_up(layer, caplog):
    app = app_with(slow=EchoConsumer, options={"application_close_timeout": 0.1})
    before = live_tasks()
    client = GatewayCommunicator(app, "/ws/")
    await client.connect()
    await client.send_to("slow", {"action": "join", "group": "g", "request_id": 1})
    await client.receive_from("slow", request_id=1)
    await client.send_to("slow", {"action": "sleep", "seconds": 30, "request_id": 2})
    await asyncio.sleep(0.02)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="gateway"):
        await client.disconnect()
    assert time.monotonic() - started < 1
    assert "still running 0.1s after disconnect; cancelling" in caplog.text
    assert layer.groups == {}
    assert layer.channels == {}
    assert live_tasks() <= before


async def test_streams_get_disconnect_with_the_clients_code(open_socket):
    codes: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
            elif message["type"] == "websocket.disconnect":
                codes.append(message["code"])
                return

    client = GatewayCommunicator(Gateway.as_asgi(streams={"s": app}), "/ws/")
    await client.connect()
    await client.send_to("s", {})
    await asyncio.sleep(0.01)
    await client.disconnect(code=4321)
    assert codes == [4321]


async def test_unknown_asgi_messages_from_a_stream_are_ignored(open_socket, caplog):
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        await send({"type": "websocket.something"})
        await send({"type": "websocket.send", "text": '{"ok": true}'})
        await receive()

    client = await open_socket(Gateway.as_asgi(streams={"s": app}))
    with caplog.at_level(logging.WARNING, logger="gateway"):
        await client.send_to("s", {})
        assert await client.receive_from("s") == {"ok": True}
    assert "unknown ASGI message type 'websocket.something'" in caplog.text


async def test_denial_response_counts_as_refusal(open_socket):
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
        await send({"type": "websocket.http.response.body", "body": b"no"})
        await receive()

    client = await open_socket(Gateway.as_asgi(streams={"s": app, "t": EchoConsumer}))
    await client.send_to("s", {"request_id": 5})
    assert_error(await client.receive_from("s"), 403, None, 5)


async def test_consumer_that_cannot_be_created_is_refused(open_socket):
    class Unbuildable(EchoConsumer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("cannot build")

    client = await open_socket(app_with(bad=Unbuildable))
    await client.send_to("bad", {"request_id": 1})
    assert_error(await client.receive_from("bad"), 403, None, 1)
    await assert_ok_still_works(client)
