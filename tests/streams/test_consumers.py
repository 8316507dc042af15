"""AsyncAPIConsumer over a real websocket communicator: dispatch, replies, errors."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from rest_framework.exceptions import NotFound, Throttled, ValidationError

from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.permissions import BasePermission
from tests.conftest import request


class EchoConsumer(AsyncAPIConsumer):
    @action()
    async def echo(self, **kwargs: Any) -> tuple[Any, int]:
        kwargs.pop("action")
        kwargs.pop("request_id")
        return kwargs, 200

    @action(name="renamed")
    async def some_method(self, **kwargs: Any) -> tuple[Any, int]:
        return "renamed", 200

    @action()
    def sync_action(self, value: int, **kwargs: Any) -> tuple[Any, int]:
        return value * 2, 201

    @action()
    async def needs_pk(self, pk: int, **kwargs: Any) -> tuple[Any, int]:
        return pk, 200

    @action()
    async def boom(self, **kwargs: Any) -> tuple[Any, int]:
        raise RuntimeError("secret internal detail")

    @action()
    async def invalid(self, **kwargs: Any) -> tuple[Any, int]:
        raise ValidationError({"name": ["This field is required."]})

    @action()
    async def missing(self, **kwargs: Any) -> tuple[Any, int]:
        raise NotFound()

    @action()
    async def throttled(self, **kwargs: Any) -> tuple[Any, int]:
        raise Throttled()

    @action()
    async def silent(self, **kwargs: Any) -> None:
        return None

    @action()
    async def slow(self, **kwargs: Any) -> tuple[Any, int]:
        await asyncio.sleep(0.05)
        return "slow", 200

    async def not_an_action(self, **kwargs: Any) -> tuple[Any, int]:
        return "leak", 200


def reply(data: Any, action: Any, status: int = 200, request_id: Any = None, errors: Any = None):
    return {
        "errors": errors or [],
        "data": data,
        "action": action,
        "response_status": status,
        "request_id": request_id,
    }


async def test_async_action_reply_shape(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"action": "echo", "request_id": 7, "x": [1, 2]})
    assert got == reply({"x": [1, 2]}, "echo", request_id=7)
    assert list(got) == ["errors", "data", "action", "response_status", "request_id"]


@pytest.mark.parametrize("request_id", ["abc", 3.5, None, {"nested": [1, "x"]}, [1, 2], True])
async def test_request_id_echoed_unchanged(communicator, request_id):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"action": "echo", "request_id": request_id})
    assert got["request_id"] == request_id


async def test_missing_request_id_is_null(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    assert (await request(comm, {"action": "echo"}))["request_id"] is None


async def test_huge_request_id_refused(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"action": "echo", "request_id": "x" * 5000})
    assert got["response_status"] == 400 and got["request_id"] is None


async def test_named_action(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    assert (await request(comm, {"action": "renamed"}))["data"] == "renamed"
    got = await request(comm, {"action": "some_method"})
    assert got["response_status"] == 405


@pytest.mark.django_db
async def test_sync_action_runs_in_thread(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"action": "sync_action", "value": 21, "request_id": 1})
    assert got == reply(42, "sync_action", 201, 1)


@pytest.mark.parametrize(
    "name",
    ["not_an_action", "_private", "__init__", "dispatch", "reply", "handle_action", "x" * 300],
)
async def test_only_registered_actions_are_callable(communicator, name):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"action": name, "request_id": 1})
    assert got == reply(None, name, 405, 1, [f'Method "{name}" not allowed.'])


async def test_missing_action(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"request_id": 5})
    assert got == reply(None, None, 405, 5, ["Unable to find action in message body."])


@pytest.mark.parametrize("action_value", [1, ["echo"], {"a": 1}])
async def test_non_string_action(communicator, action_value):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"action": action_value, "request_id": 5})
    assert got["response_status"] == 400 and got["request_id"] == 5


@pytest.mark.parametrize("text", ["not json", "{", "", "\x00\x01"])
async def test_text_that_is_not_json(communicator, text):
    comm = await communicator(EchoConsumer.as_asgi())
    await comm.send_to(text_data=text) if text else await comm.send_input(
        {"type": "websocket.receive", "text": ""}
    )
    got = await comm.receive_json_from()
    assert got["response_status"] == 400 and got["action"] is None
    # The socket lives on.
    assert (await request(comm, {"action": "echo"}))["response_status"] == 200


@pytest.mark.parametrize("payload", ["[1, 2]", "3", '"echo"', "null"])
async def test_json_that_is_not_an_object(communicator, payload):
    comm = await communicator(EchoConsumer.as_asgi())
    await comm.send_to(text_data=payload)
    got = await comm.receive_json_from()
    assert got == reply(None, None, 400, None, ["Message must be a JSON object."])


async def test_binary_frame(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    await comm.send_to(bytes_data=b"\x00\xff")
    got = await comm.receive_json_from()
    assert got["response_status"] == 400
    assert (await request(comm, {"action": "echo"}))["response_status"] == 200


@pytest.mark.parametrize("key", ["self", "scope", "consumer"])
async def test_reserved_keys_are_400_not_type_error(communicator, key):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"action": "echo", "request_id": 2, key: 1})
    assert got["response_status"] == 400 and got["request_id"] == 2


async def test_payload_key_named_kwargs_is_harmless(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"action": "echo", "kwargs": 1})
    assert got["data"] == {"kwargs": 1}


async def test_missing_argument_is_400(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"action": "needs_pk", "request_id": 3})
    assert got["response_status"] == 400 and "pk" in got["errors"][0]


async def test_unexpected_exception_is_500_without_details(communicator, caplog):
    comm = await communicator(EchoConsumer.as_asgi())
    with caplog.at_level(logging.ERROR, logger="streams.consumers"):
        got = await request(comm, {"action": "boom", "request_id": "r"})
    assert got == reply(None, "boom", 500, "r", ["Internal server error."])
    assert "secret" not in str(got)
    assert any("secret internal detail" in str(r.exc_info[1]) for r in caplog.records)
    assert (await request(comm, {"action": "echo"}))["response_status"] == 200


async def test_validation_error_keeps_drf_detail(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"action": "invalid"})
    assert got["response_status"] == 400
    assert got["errors"] == [{"name": ["This field is required."]}]


async def test_api_exceptions_keep_their_status(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    assert (await request(comm, {"action": "missing"}))["response_status"] == 404
    assert (await request(comm, {"action": "throttled"}))["response_status"] == 429


async def test_action_without_tuple_sends_nothing(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    await comm.send_json_to({"action": "silent"})
    assert await comm.receive_nothing(timeout=0.1)


async def test_replies_keep_request_order(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    await comm.send_json_to({"action": "slow", "request_id": 1})
    await comm.send_json_to({"action": "echo", "request_id": 2})
    first = await comm.receive_json_from()
    second = await comm.receive_json_from()
    assert [first["request_id"], second["request_id"]] == [1, 2]


class DenyAll(BasePermission):
    def has_permission(self, scope, consumer, action, **kwargs):
        return action == "allowed"


class DenyConnect(BasePermission):
    async def can_connect(self, scope, consumer, message=None):
        return False


class GuardedConsumer(AsyncAPIConsumer):
    permission_classes = (DenyAll,)

    @action()
    async def allowed(self, **kwargs):
        return "ok", 200

    @action()
    async def forbidden(self, **kwargs):
        raise AssertionError("must not run")


async def test_permission_denied_is_403_and_action_not_run(communicator):
    comm = await communicator(GuardedConsumer.as_asgi())
    got = await request(comm, {"action": "forbidden", "request_id": 1})
    assert got == reply(
        None, "forbidden", 403, 1, ["You do not have permission to perform this action."]
    )
    assert (await request(comm, {"action": "allowed"}))["data"] == "ok"


async def test_can_connect_refuses_socket():
    from channels.testing import WebsocketCommunicator

    class Closed(AsyncAPIConsumer):
        permission_classes = (DenyConnect,)

    comm = WebsocketCommunicator(Closed.as_asgi(), "/")
    connected, code = await comm.connect()
    assert not connected and code == 4003


# ------------------------------------------------------------------ batching
# Under the gateway, frames already queued for a stream are served together:
# consecutive sync actions run in one database-thread hop. These tests pin the
# observable contract: same replies, same order, per-call errors and
# permissions, and overrides of the message hooks still run for every frame.

import threading  # noqa: E402

from gateway import Gateway  # noqa: E402
from gateway.testing import GatewayCommunicator  # noqa: E402


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


# ------------------------------------------------------- channel-layer outage
from channels.layers import InMemoryChannelLayer  # noqa: E402
from django.test import override_settings  # noqa: E402


class FlakyLayer(InMemoryChannelLayer):
    """An in-memory layer whose first receives fail, like Redis going away."""

    failures = 0

    async def receive(self, channel):
        if FlakyLayer.failures:
            FlakyLayer.failures -= 1
            raise ConnectionError("layer unreachable")
        return await super().receive(channel)


class GroupConsumer(AsyncAPIConsumer):
    groups = ["news"]

    async def news_message(self, event):
        await self.reply(action="news", data=event["text"])


@override_settings(
    CHANNEL_LAYERS={"default": {"BACKEND": "tests.streams.test_consumers.FlakyLayer"}}
)
async def test_channel_layer_outage_keeps_the_stream_and_rejoins(communicator):
    from channels.layers import get_channel_layer

    FlakyLayer.failures = 3
    comm = await communicator(GroupConsumer.as_asgi())
    # Requests are served while the layer is failing.
    assert (await request(comm, {"action": "missing", "request_id": 1}))["response_status"] == 405
    await asyncio.sleep(0.5)  # the back-off retries, then re-joins "news"
    await get_channel_layer().group_send("news", {"type": "news.message", "text": "back"})
    got = await comm.receive_json_from(timeout=2)
    assert got["action"] == "news" and got["data"] == "back"


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


# ------------------------------------------------- what a failure's log says
class LoggedSite(Gateway):
    streams = {"echo-stream": EchoConsumer}


async def test_exception_log_names_stream_action_and_request_id(caplog):
    """Checklist 25: the traceback goes to the log with stream, action and
    request_id (as record attributes too), never to the client."""
    client = GatewayCommunicator(LoggedSite.as_asgi(), "/ws/")
    assert (await client.connect())[0]
    with caplog.at_level(logging.ERROR, logger="streams.consumers"):
        await client.send_to("echo-stream", {"action": "boom", "request_id": "r-25"})
        got = await client.receive_from("echo-stream", request_id="r-25")
    assert got == reply(None, "boom", 500, "r-25", ["Internal server error."])
    [record] = caplog.records
    assert (record.stream, record.action, record.request_id) == ("echo-stream", "boom", "r-25")
    assert record.getMessage() == (
        "EchoConsumer: action 'boom' (stream 'echo-stream', request_id 'r-25') failed"
    )
    assert record.exc_info is not None and "secret internal detail" in str(record.exc_info[1])
    await client.disconnect()


async def test_exception_log_without_a_gateway_has_no_stream(communicator, caplog):
    comm = await communicator(EchoConsumer.as_asgi())
    with caplog.at_level(logging.ERROR, logger="streams.consumers"):
        await request(comm, {"action": "boom", "request_id": 9})
    [record] = caplog.records
    assert (record.stream, record.action, record.request_id) == (None, "boom", 9)


class FragileHandler(AsyncAPIConsumer):
    groups = ["fragile"]

    async def boom_message(self, event):
        raise RuntimeError("handler bug")

    async def news_message(self, event):
        await self.reply(action="news", data=event["text"])

    @action()
    async def ping(self, **kwargs):
        return "pong", 200


async def test_a_failing_group_handler_is_logged_and_the_stream_lives(communicator, caplog):
    from channels.layers import get_channel_layer

    comm = await communicator(FragileHandler.as_asgi())
    layer = get_channel_layer()
    with caplog.at_level(logging.ERROR, logger="streams.consumers"):
        await layer.group_send("fragile", {"type": "boom.message"})
        await layer.group_send("fragile", {"type": "news.message", "text": "still here"})
        got = await comm.receive_json_from(timeout=2)
    assert got["data"] == "still here"
    assert any("boom.message" in r.getMessage() for r in caplog.records)
    assert (await request(comm, {"action": "ping"}))["data"] == "pong"


class UnencodableReply(AsyncAPIConsumer):
    @action()
    async def leaky(self, **kwargs):
        return object(), 200  # a programming error: not JSON

    @action()
    def sync_leaky(self, **kwargs):
        return {"when": object()}, 200

    @action()
    async def ping(self, **kwargs):
        return "pong", 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["leaky", "sync_leaky"])
async def test_unencodable_reply_is_500_and_later_frames_are_served(communicator, caplog, name):
    # Standalone (no gateway) the reply is encoded by the consumer. Encoding
    # used to raise inside the frame worker, which died: no reply for this
    # frame, and the frames queued behind it were never served.
    comm = await communicator(UnencodableReply.as_asgi())
    with caplog.at_level(logging.ERROR, logger="streams.consumers"):
        await comm.send_json_to({"action": name, "request_id": 1})
        await comm.send_json_to({"action": "ping", "request_id": 2})
        first = await comm.receive_json_from(timeout=2)
        second = await comm.receive_json_from(timeout=2)
    assert first == reply(None, name, 500, 1, ["Internal server error."])
    assert second == reply("pong", "ping", 200, 2)
    assert "cannot be encoded" in caplog.text


class SlowDiscardLayer(InMemoryChannelLayer):
    """Leaving a group takes a while, as over the network with Redis."""

    async def group_discard(self, group, channel):
        await asyncio.sleep(0.1)
        await super().group_discard(group, channel)


class LateJoiner(AsyncAPIConsumer):
    groups = ["late-start"]

    async def join_message(self, event):
        await asyncio.sleep(0.05)  # wakes while the disconnect is leaving groups
        await self.channel_layer.group_add("joined-too-late", self.channel_name)


@override_settings(
    CHANNEL_LAYERS={"default": {"BACKEND": "tests.streams.test_consumers.SlowDiscardLayer"}}
)
async def test_disconnect_stops_group_handlers_before_leaving_groups():
    from channels.layers import get_channel_layer
    from channels.testing import WebsocketCommunicator

    layer = get_channel_layer()
    comm = WebsocketCommunicator(LateJoiner.as_asgi(), "/")
    assert (await comm.connect())[0]
    await layer.group_send("late-start", {"type": "join.message"})
    await asyncio.sleep(0.01)  # the handler is now sleeping
    await comm.disconnect()
    await asyncio.sleep(0.2)
    assert "joined-too-late" not in layer.groups
    assert "late-start" not in layer.groups
