"""The gateway end to end, through GatewayCommunicator: routing, isolation,
error frames, ordering, concurrency, backpressure and cleanup."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from channels.routing import URLRouter
from django.core.exceptions import ImproperlyConfigured
from django.urls import path, re_path

from gateway import Gateway
from gateway.testing import GatewayCommunicator
from tests.gateway import consumers
from tests.gateway.consumers import (
    EchoConsumer,
    JsonEchoConsumer,
    OtherEchoConsumer,
    SyncEchoConsumer,
    plain_echo_app,
)
from tests.gateway.helpers import assert_error, live_tasks


class Demoplexer(Gateway):
    streams = {
        "echo": EchoConsumer,
        "json": JsonEchoConsumer.as_asgi(),
        "plain": plain_echo_app,
    }


# ------------------------------------------------------------------ routing
async def test_frames_reach_their_stream_and_replies_are_wrapped(open_socket):
    client = await open_socket(Demoplexer.as_asgi())
    await client.send_to("echo", {"action": "ping", "request_id": 1, "data": "a"})
    await client.send_to("plain", {"action": "ping", "request_id": 2})
    frames = [await client.receive_frame(), await client.receive_frame()]
    by_stream = {frame["stream"]: frame["payload"] for frame in frames}
    assert set(frames[0]) == {"stream", "payload"}
    assert by_stream["echo"]["data"] == "a"
    assert by_stream["plain"] == {"action": "ping", "request_id": 2, "stream_seen": "plain"}


async def test_streams_keyword_gives_each_route_its_own_table(open_socket):
    first = Demoplexer.as_asgi(streams={"a": EchoConsumer})
    second = Demoplexer.as_asgi(streams={"b": EchoConsumer})
    assert list(first.routes) == ["a"]
    assert list(second.routes) == ["b"]
    assert list(Demoplexer.streams) == ["echo", "json", "plain"]
    client = await open_socket(first)
    await client.send_to("b", {"action": "ping", "request_id": 1})
    message = assert_error(await client.receive_from(), 404, "ping", 1)
    assert "'b'" in message
    await client.send_to("a", {"action": "ping", "request_id": 2})
    assert (await client.receive_from("a"))["response_status"] == 200


async def test_gateway_without_streams_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="Gateway has no streams"):
        Gateway.as_asgi()


async def test_unknown_option_names_the_class_and_the_options():
    with pytest.raises(TypeError, match=r"Demoplexer.as_asgi\(\).*'max_frames'.*max_frame_bytes"):
        Demoplexer.as_asgi(max_frames=3)


async def test_streams_start_on_their_first_frame_only(open_socket):
    class Counted(EchoConsumer):
        pass

    many = Gateway.as_asgi(streams={f"s{i}": Counted for i in range(10)})
    consumers.CREATED.pop("Counted", None)
    client = await open_socket(many)
    await client.assert_no_frames(0.02)
    assert consumers.CREATED.get("Counted", 0) == 0
    for name in ("s3", "s7", "s3"):
        await client.send_to(name, {"action": "ping", "request_id": name})
        await client.receive_from(name)
    assert consumers.CREATED["Counted"] == 2


async def test_streams_of_one_connection_share_one_dict(open_socket):
    """``scope["gateway"].shared``: one dict per connection, for per-socket limits."""

    class Sharing(EchoConsumer):
        def describe_scope(self) -> dict[str, Any]:
            gateway = self.scope["gateway"]
            gateway.shared.setdefault("streams seen", []).append(gateway.stream)
            return {"seen": list(gateway.shared["streams seen"])}

    app = Gateway.as_asgi(streams={"a": Sharing, "b": Sharing})
    first, second = await open_socket(app), await open_socket(app)
    for client, stream, seen in (
        (first, "a", ["a"]),
        (first, "b", ["a", "b"]),
        (second, "b", ["b"]),
    ):
        await client.send_to(stream, {"action": "scope", "request_id": 1})
        assert (await client.receive_from(stream))["data"] == {"seen": seen}


async def test_connection_scope_reaches_every_stream(open_socket):
    application = URLRouter([path("ws/<room>/", Demoplexer.as_asgi())])
    client = await open_socket(
        application,
        "/ws/lobby/",
        headers=[(b"origin", b"http://testserver")],
        scope={"user": "alice"},
    )
    for stream in ("echo", "json"):
        await client.send_to(stream, {"action": "scope", "request_id": stream})
        data = (await client.receive_from(stream))["data"]
        assert data == {
            "path": "/ws/lobby/",
            "stream": stream,
            "routes": ["echo", "json", "plain"],
            "user": "alice",
            "headers": [["origin", "http://testserver"]],
            "url_kwargs": {"room": "lobby"},
            "json_extension": True,
        }
    assert "gateway" not in client.scope  # each stream got a copy


async def test_nested_router_sees_the_rest_of_the_path(open_socket):
    rooms = URLRouter([re_path(r"^rooms/(?P<name>\w+)/$", EchoConsumer.as_asgi())])
    application = URLRouter([re_path(r"^ws/", Gateway.as_asgi(streams={"rooms": rooms}))])
    client = await open_socket(application, "/ws/rooms/kitchen/")
    await client.send_to("rooms", {"action": "scope", "request_id": 1})
    data = (await client.receive_from("rooms"))["data"]
    assert data["url_kwargs"] == {"name": "kitchen"}
    assert data["stream"] == "rooms"


async def test_sync_consumers_work_as_streams(open_socket):
    client = await open_socket(Gateway.as_asgi(streams={"sync": SyncEchoConsumer}))
    await client.send_to("sync", {"action": "ping", "request_id": 9})
    assert (await client.receive_from("sync", request_id=9))["data"] == "sync"


async def test_non_websocket_scope_is_refused_with_a_clear_error():
    app = Demoplexer.as_asgi()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: dict[str, Any]) -> None:
        pass

    with pytest.raises(ValueError, match="websocket connections only"):
        await app({"type": "http", "path": "/"}, receive, send)


async def test_subclasses_can_select_a_subprotocol():
    class WithProtocol(Demoplexer):
        def select_subprotocol(self, offered: list[str]) -> str | None:
            return "v2.gateway" if "v2.gateway" in offered else None

    client = GatewayCommunicator(WithProtocol.as_asgi(), "/ws/", subprotocols=["v1", "v2.gateway"])
    assert await client.connect() == (True, "v2.gateway")
    await client.disconnect()
    plain = GatewayCommunicator(Demoplexer.as_asgi(), "/ws/", subprotocols=["v2.gateway"])
    assert await plain.connect() == (True, None)
    await plain.disconnect()


# ------------------------------------------------------ lifecycle hooks
async def test_connect_hook_refuses_with_false_or_close_code():
    class SaysNo(Demoplexer):
        async def connect(self) -> bool:
            return False

    class ClosesWith(Demoplexer):
        async def connect(self) -> None:
            await self.close(4003)

    assert await GatewayCommunicator(SaysNo.as_asgi(), "/ws/").connect() == (False, 1000)
    assert await GatewayCommunicator(ClosesWith.as_asgi(), "/ws/").connect() == (False, 4003)


async def test_connect_hook_sees_the_scope_and_may_pick_the_subprotocol():
    class Picky(Demoplexer):
        async def connect(self) -> None:
            offered = self.scope["subprotocols"]
            await self.accept(offered[-1])

    client = GatewayCommunicator(Picky.as_asgi(), "/ws/", subprotocols=["v1", "v2"])
    assert await client.connect() == (True, "v2")
    await client.send_to("echo", {"request_id": 1})
    assert (await client.receive_from("echo"))["request_id"] == 1
    await client.disconnect()


async def test_close_after_accept_closes_the_socket():
    class Closer(Demoplexer):
        async def connect(self) -> None:
            self.closer = asyncio.ensure_future(self._close_later())

        async def _close_later(self) -> None:
            await asyncio.sleep(0.05)
            await self.close(4000)

    client = GatewayCommunicator(Closer.as_asgi(), "/ws/")
    assert (await client.connect())[0]
    assert await client.receive_close(timeout=2) == 4000


async def test_a_failing_disconnect_hook_is_logged_and_the_streams_still_end(caplog):
    class Broken(Demoplexer):
        async def disconnect(self, code: int) -> None:
            raise RuntimeError("broken disconnect hook")

    before = live_tasks()
    client = GatewayCommunicator(Broken.as_asgi(), "/ws/")
    assert (await client.connect())[0]
    await client.send_to("echo", {"request_id": 1})
    await client.receive_from("echo")
    with caplog.at_level(logging.ERROR, logger="gateway.gateway"):
        await client.disconnect()
    assert any("disconnect() failed" in r.getMessage() for r in caplog.records)
    assert live_tasks() <= before


async def test_a_server_raising_in_receive_still_cleans_up(layer):
    app = Gateway.as_asgi(streams={"a": EchoConsumer})
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        message = await inbox.get()
        if message["type"] == "boom":
            raise OSError("connection reset")
        return message

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await inbox.put({"type": "websocket.connect"})
    await inbox.put(
        {
            "type": "websocket.receive",
            "text": '{"stream": "a", "payload": {"action": "join", "group": "g", "request_id": 1}}',
        }
    )
    task = asyncio.create_task(app({"type": "websocket", "path": "/ws/"}, receive, send))
    for _ in range(100):
        if len(sent) == 2:
            break
        await asyncio.sleep(0.01)
    assert "g" in layer.groups
    await inbox.put({"type": "boom"})
    await asyncio.wait_for(task, 2)
    assert layer.groups == {}


async def test_client_leaving_before_the_handshake_is_quiet():
    app = Demoplexer.as_asgi()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.disconnect", "code": 1001}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "websocket", "path": "/ws/"}, receive, send)
    assert sent == []


# ------------------------------------------------------------ JSON handling
async def test_json_consumers_get_decoded_payloads_others_get_text(open_socket):
    client = await open_socket(Demoplexer.as_asgi())
    await client.send_to("json", {"action": "via", "request_id": 1})
    await client.send_to("echo", {"action": "via", "request_id": 2})
    assert (await client.receive_from("json"))["data"] == "json"
    assert (await client.receive_from("echo"))["data"] == "text"


async def test_outgoing_json_text_and_binary(open_socket, caplog):
    client = await open_socket(Demoplexer.as_asgi())
    # JSON text that is not an object is carried as the payload.
    await client.send_to("plain", {"action": "list"})
    assert await client.receive_from("plain") == [1, 2]
    # Non-JSON text and bytes cannot be carried in a frame: dropped, logged.
    with caplog.at_level(logging.WARNING, logger="gateway"):
        await client.send_to("plain", {"action": "not-json"})
        await client.send_to("plain", {"action": "bytes"})
        await client.assert_no_frames(0.05)
    assert "sent text that is not JSON" in caplog.text
    assert "sent a binary frame" in caplog.text
    # A payload the encoder cannot handle is a 500 for that stream.
    await client.send_to("plain", {"action": "unencodable"})
    assert_error(await client.receive_from("plain"), 500)


async def test_json_payloads_use_the_gateways_encoder(open_socket):
    import datetime
    import decimal

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        await send(
            {
                "type": "websocket.send",
                "json": {"when": datetime.date(2024, 1, 2), "price": decimal.Decimal("1.50")},
            }
        )
        await receive()

    client = await open_socket(Gateway.as_asgi(streams={"typed": app}))
    await client.send_to("typed", {})
    assert await client.receive_from("typed") == {"when": "2024-01-02", "price": 1.5}


# --------------------------------------------------------------- error frames
@pytest.mark.parametrize(
    ("raw", "stream", "action", "request_id", "fragment"),
    [
        ("garbage", None, None, None, "not valid JSON"),
        ("", None, None, None, "not valid JSON"),
        ("[1, 2]", None, None, None, "must be a JSON object"),
        ('"text"', None, None, None, "must be a JSON object"),
        ('{"payload": {"action": "a", "request_id": 7}}', None, "a", 7, 'no "stream"'),
        ('{"stream": 5, "payload": {}}', None, None, None, 'no "stream"'),
        ('{"stream": "", "payload": {}}', None, None, None, 'no "stream"'),
        ('{"stream": "echo"}', "echo", None, None, 'no "payload"'),
        ('{"stream": "echo", "payload": [1]}', "echo", None, None, '"payload" must be'),
        ('{"stream": "echo", "payload": null}', "echo", None, None, '"payload" must be'),
        ('{"stream": "echo", "payload": {"x": NaN}}', None, None, None, "not valid JSON"),
        ('{"stream": "echo", "payload": {"x": Infinity}}', None, None, None, "not valid JSON"),
    ],
)
async def test_malformed_frames_get_400_frames(
    open_socket, raw, stream, action, request_id, fragment
):
    client = await open_socket(Demoplexer.as_asgi())
    await client.send_raw(raw)
    frame = await client.receive_frame()
    assert frame["stream"] == stream
    assert fragment in assert_error(frame["payload"], 400, action, request_id)
    # The socket is still fine.
    await client.send_to("echo", {"action": "ping", "request_id": "after"})
    assert (await client.receive_from("echo", request_id="after"))["response_status"] == 200


async def test_binary_frames_get_400_frames(open_socket):
    client = await open_socket(Demoplexer.as_asgi())
    await client.send_raw(b'{"stream": "echo", "payload": {}}')
    frame = await client.receive_frame()
    assert frame["stream"] is None
    assert "Binary frames" in assert_error(frame["payload"], 400)


async def test_unknown_stream_gets_404_naming_it(open_socket):
    client = await open_socket(Demoplexer.as_asgi())
    await client.send_to("books", {"action": "list", "request_id": "r1"})
    frame = await client.receive_frame()
    assert frame["stream"] == "books"
    assert assert_error(frame["payload"], 404, "list", "r1") == "Unknown stream 'books'."


async def test_unechoable_request_ids_and_actions_are_null(open_socket):
    client = await open_socket(Demoplexer.as_asgi())
    payload = {"action": {"not": "a string"}, "request_id": ["a", "list"]}
    await client.send_to("nowhere", payload)
    assert_error(await client.receive_from(), 404, None, None)
    await client.send_to("nowhere", {"action": "x" * 5000, "request_id": "y" * 5000})
    assert_error(await client.receive_from(), 404, None, None)


async def test_oversized_frame_gets_413_without_being_parsed(open_socket):
    client = await open_socket(Demoplexer.as_asgi(max_frame_bytes=1000))
    # Not even valid JSON past the limit: a 413, not a 400, proves it was not parsed.
    await client.send_raw('{"stream": "echo", "payload": {"data": "' + "x" * 2000)
    frame = await client.receive_frame()
    assert frame["stream"] == "echo"  # read from the frame's first bytes only
    assert "larger than 1000 bytes" in assert_error(frame["payload"], 413)
    # The limit is in UTF-8 bytes: 600 euro signs are 1800 bytes.
    await client.send_to("echo", {"data": "€" * 600})
    assert_error(await client.receive_from("echo"), 413)


async def test_too_deep_json_gets_400(open_socket):
    client = await open_socket(Demoplexer.as_asgi(max_json_depth=5))
    await client.send_to("echo", {"data": [[[1]]]})  # depth 5 with frame and payload
    assert (await client.receive_from("echo"))["response_status"] == 200
    await client.send_to("echo", {"data": [[[[1]]]]})
    assert "deeper than 5" in assert_error(await client.receive_from(), 400)


async def test_bad_frames_in_a_row_close_with_1008(open_socket):
    client = await open_socket(Demoplexer.as_asgi(max_bad_frames=3))
    for _ in range(2):
        await client.send_raw("nope")
    await client.send_to("echo", {"action": "ping"})  # resets the count
    for _ in range(2):
        await client.send_raw("nope")
    await client.send_raw("nope")
    assert await client.receive_close() == 1008
    statuses = [frame["payload"]["response_status"] for frame in client.buffered]
    assert statuses.count(400) == 5  # every bad frame was answered before the close


# ------------------------------------------------------- ordering, concurrency
async def test_frames_of_one_stream_are_answered_in_order(open_socket):
    client = await open_socket(Demoplexer.as_asgi())
    for index in range(50):
        await client.send_to("json", {"action": "ping", "request_id": index})
    received = [(await client.receive_from("json"))["request_id"] for _ in range(50)]
    assert received == list(range(50))


async def test_a_slow_action_does_not_delay_other_streams(open_socket):
    client = await open_socket(Demoplexer.as_asgi())
    await client.send_to("echo", {"action": "sleep", "seconds": 0.5, "request_id": "slow"})
    started = time.monotonic()
    await client.send_to("json", {"action": "ping", "request_id": "fast"})
    await client.receive_from("json", request_id="fast", timeout=0.3)
    assert time.monotonic() - started < 0.3
    assert client.buffered == []  # the slow reply has not come yet
    await client.receive_from("echo", request_id="slow")


async def test_requests_beyond_max_in_flight_get_429(open_socket):
    client = await open_socket(Demoplexer.as_asgi(max_in_flight=3))
    # Start the stream first: frames waiting for a stream to accept count too.
    await client.send_to("echo", {"action": "ping", "request_id": "warm-up"})
    await client.receive_from("echo", request_id="warm-up")
    await client.send_to("echo", {"action": "sleep", "seconds": 0.2, "request_id": 0})
    await asyncio.sleep(0.01)  # let the stream take it: then it is no longer in flight
    for index in range(1, 6):
        await client.send_to("echo", {"action": "ping", "request_id": index})
    for index in (4, 5):
        assert_error(await client.receive_from("echo", request_id=index), 429, "ping", index)
    for index in (0, 1, 2, 3):
        assert (await client.receive_from("echo", request_id=index))["response_status"] == 200


# ----------------------------------------------------------- channel layer
async def test_group_messages_reach_exactly_the_streams_that_joined(open_socket, layer):
    app = Gateway.as_asgi(streams={"a": EchoConsumer, "b": EchoConsumer, "c": OtherEchoConsumer})
    client = await open_socket(app)
    await client.send_to("a", {"action": "join", "group": "g", "request_id": 1})
    await client.send_to("c", {"action": "join", "group": "h", "request_id": 2})
    await client.receive_from("a", request_id=1)
    await client.receive_from("c", request_id=2)
    await client.send_to("b", {"action": "shout", "group": "g", "data": "hi", "request_id": 3})
    await client.receive_from("b", request_id=3)
    event = await client.receive_from("a")
    assert event["action"] == "event" and event["data"] == "hi" and event["stream"] == "a"
    await client.assert_no_frames(0.05)


async def test_a_thousand_connect_subscribe_disconnect_cycles_leave_nothing(layer):
    app = Gateway.as_asgi(streams={"a": JsonEchoConsumer, "b": EchoConsumer})
    before = live_tasks()

    async def cycle(index: int) -> None:
        client = GatewayCommunicator(app, "/ws/")
        await client.connect()
        await client.send_to("a", {"action": "join", "group": f"g{index % 7}", "request_id": 1})
        await client.receive_from("a", request_id=1, timeout=10)
        await client.disconnect()

    # Fifty connections at a time: the production stack's Redis round trips
    # would make 1,000 one-by-one cycles take minutes.
    for wave in range(0, 1000, 50):
        await asyncio.gather(*(cycle(index) for index in range(wave, wave + 50)))
    assert layer.groups == {}
    assert layer.channels == {}
    assert live_tasks() <= before


# ---------------------------------------------------------------- backpressure
async def test_a_client_that_stops_reading_is_closed_with_1013(open_socket, caplog):
    app = Demoplexer.as_asgi(max_outbound_bytes=5000)
    client = await open_socket(app, max_unread=2)
    with caplog.at_level(logging.WARNING, logger="gateway"):
        await client.send_to("echo", {"action": "burst", "count": 1000, "request_id": 1})
        await asyncio.sleep(0.05)  # the client is not reading
        code = await client.receive_close()
    assert code == 1013
    # Only what was in flight reached the client; the rest was dropped.
    assert 0 < len(client.buffered) < 100
    assert "client is not reading" in caplog.text


async def test_a_client_that_never_reads_is_ended_after_close_timeout(open_socket, caplog):
    # The server's send stays blocked (uvicorn waits for its transport to
    # drain, the close frame included): the connection still ends, bounded.
    app = Demoplexer.as_asgi(max_outbound_bytes=5000, close_timeout=0.2)
    client = await open_socket(app, max_unread=2)
    task = client._require_task()
    with caplog.at_level(logging.INFO, logger="gateway"):
        await client.send_to("echo", {"action": "burst", "count": 1000, "request_id": 1})
        started = time.monotonic()
        await asyncio.wait_for(asyncio.shield(task), 5)
    assert task.exception() is None  # ended normally, not cancelled
    assert time.monotonic() - started < 2
    assert "client is not reading" in caplog.text
    assert "has not taken the close frame (code 1013) within 0.2s" in caplog.text
    assert "connection closed (code 1013" in caplog.text


async def test_a_close_the_client_takes_in_time_does_not_end_the_connection_early(
    open_socket, caplog
):
    app = Demoplexer.as_asgi(max_outbound_bytes=5000, close_timeout=0.2)
    client = await open_socket(app, max_unread=2)
    with caplog.at_level(logging.WARNING, logger="gateway"):
        await client.send_to("echo", {"action": "burst", "count": 1000, "request_id": 1})
        await asyncio.sleep(0.05)
        assert await client.receive_close() == 1013  # the client reads again in time
        await asyncio.sleep(0.3)
    assert "has not taken the close frame" not in caplog.text


async def test_a_server_cancelling_the_application_is_not_absorbed(open_socket):
    app = Demoplexer.as_asgi(max_outbound_bytes=5000, close_timeout=5)
    client = await open_socket(app, max_unread=2)
    task = client._require_task()
    await client.send_to("echo", {"action": "burst", "count": 1000, "request_id": 1})
    await asyncio.sleep(0.05)
    task.cancel()  # the server gives up on the application: that must propagate
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()


async def test_bursts_to_a_reading_client_are_not_closed(open_socket):
    client = await open_socket(Demoplexer.as_asgi(max_outbound_bytes=5000))
    await client.send_to("json", {"action": "burst", "count": 500, "request_id": 1})
    received = [(await client.receive_from("json"))["data"] for _ in range(500)]
    assert received == list(range(500))
    assert client.close_code is None


# ------------------------------------------------------------------- logging
async def test_logging_has_connection_ids_and_no_payloads_at_info(caplog):
    with caplog.at_level(logging.DEBUG, logger="gateway"):
        client = GatewayCommunicator(Demoplexer.as_asgi(), "/ws/")
        await client.connect()
        await client.send_to("echo", {"action": "ping", "data": "secret-value", "request_id": 1})
        await client.receive_from("echo")
        await client.send_to("nowhere", {"data": "secret-value"})
        await client.receive_from()
        await client.disconnect()
    info = [r for r in caplog.records if r.levelno >= logging.INFO]
    opened = [r.getMessage() for r in info if "connection opened" in r.getMessage()]
    closed = [r.getMessage() for r in info if "connection closed" in r.getMessage()]
    assert len(opened) == 1 and len(closed) == 1
    connection_id = opened[0].split()[1].rstrip(":")
    assert connection_id in closed[0]
    refused = [r for r in info if "refused with 404" in r.getMessage()]
    assert refused and refused[0].levelno == logging.WARNING
    assert all("secret-value" not in r.getMessage() for r in caplog.records)
    assert {r.name for r in caplog.records} <= {"gateway.gateway", "gateway.stream"}


async def test_refusal_warnings_are_capped_per_connection(open_socket, caplog):
    client = await open_socket(Demoplexer.as_asgi(max_bad_frames=None))
    with caplog.at_level(logging.DEBUG, logger="gateway"):
        for _ in range(50):
            await client.send_raw("x")
        for _ in range(50):
            await client.receive_frame()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 21  # 20 refusals and the note that the rest go to DEBUG
    assert sum(1 for r in caplog.records if r.levelno == logging.DEBUG) >= 30
