"""Hostile request_ids over the gateway (checklist item 8).

A request_id is any JSON value and is echoed unchanged while it is small; one
whose JSON form is longer than ``MAX_REQUEST_ID_LENGTH`` (1024) is refused with
a 400 whose request_id is null, so a client cannot make the server repeat a
large value back. Nothing here closes the socket.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway import Gateway
from gateway.testing import GatewayCommunicator
from tests.streams.support import EchoConsumer

TOO_LARGE = "request_id is too large to echo back."


class Site(Gateway):
    streams = {"echo": EchoConsumer}


@pytest.fixture
async def client() -> Any:
    communicator = GatewayCommunicator(Site.as_asgi(), "/ws/")
    assert (await communicator.connect())[0]
    yield communicator
    # Whatever came before, the socket still serves requests.
    await communicator.send_to("echo", {"action": "echo", "request_id": "alive"})
    assert (await communicator.receive_from("echo", request_id="alive"))["response_status"] == 200
    await communicator.disconnect()


ODD_BUT_SMALL = [
    "",
    "é\u2028\x01;--",  # NUL is refused: tests/security/test_streams_text.py
    0,
    -1,
    2**63,
    3.25,
    -0.0,
    True,
    False,
    None,
    [],
    {},
    [1, "two", None],
    {"nested": {"deeper": [1, {"x": None}]}},
    "x" * 1000,
]


@pytest.mark.parametrize("request_id", ODD_BUT_SMALL, ids=repr)
async def test_small_request_ids_of_any_type_are_echoed_unchanged(client, request_id):
    await client.send_raw(
        json.dumps({"stream": "echo", "payload": {"action": "echo", "request_id": request_id}})
    )
    got = await client.receive_frame()
    assert got["stream"] == "echo"
    assert got["payload"]["response_status"] == 200
    assert got["payload"]["request_id"] == request_id
    assert type(got["payload"]["request_id"]) is type(request_id)


HUGE = [
    "x" * 1025,
    "x" * 500_000,
    ["x" * 100] * 20,
    {"key": "v" * 2000},
    {f"k{index}": index for index in range(500)},
    [[[[[[[[[["deep" * 300]]]]]]]]]],
]


@pytest.mark.parametrize("request_id", HUGE, ids=lambda value: f"{type(value).__name__}")
async def test_huge_request_ids_are_400_and_not_echoed(client, request_id):
    await client.send_to("echo", {"action": "echo", "request_id": request_id})
    got = await client.receive_frame()
    assert got["stream"] == "echo"
    assert got["payload"] == {
        "errors": [TOO_LARGE],
        "data": None,
        "action": "echo",
        "response_status": 400,
        "request_id": None,
    }


async def test_huge_request_id_with_an_unknown_action_is_still_400(client):
    await client.send_to("echo", {"action": "nope", "request_id": "y" * 5000})
    got = (await client.receive_frame())["payload"]
    assert (got["response_status"], got["request_id"]) == (400, None)


async def test_integer_too_long_for_python_to_parse_is_a_400_frame(client):
    # Python refuses to parse integers of more than 4300 digits: not JSON to us.
    await client.send_raw(
        '{"stream": "echo", "payload": {"action": "echo", "request_id": %s}}' % ("9" * 5000)
    )
    got = (await client.receive_frame())["payload"]
    assert (got["response_status"], got["request_id"]) == (400, None)


# Numbers are measured as the JSON the reply would carry.
async def test_integer_request_id_longer_than_the_limit_is_400(client):
    await client.send_raw(
        '{"stream": "echo", "payload": {"action": "echo", "request_id": %s}}' % ("9" * 2000)
    )
    got = (await client.receive_frame())["payload"]
    assert (got["response_status"], got["request_id"]) == (400, None)


async def test_overflowing_float_request_id_is_400_not_echoed_as_infinity(client):
    await client.send_raw('{"stream": "echo", "payload": {"action": "echo", "request_id": 1e309}}')
    # Echoed, it would reach the client as ``Infinity``, which is not JSON.
    got = (await client.receive_frame())["payload"]
    assert (got["response_status"], got["request_id"]) == (400, None)
