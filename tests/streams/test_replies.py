"""RepliesMixin over a socket: the five-key reply, request_id echoed (bounded), exceptions
as error replies logged with their stream, action and request_id, replies that cannot be
encoded."""

from __future__ import annotations

import logging

import pytest

from gateway import Gateway
from gateway.testing import GatewayCommunicator
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from tests.conftest import request
from tests.streams.support import EchoConsumer, reply


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
