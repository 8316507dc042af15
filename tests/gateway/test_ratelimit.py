"""The per-connection frame rate (``gateway.ratelimit``), alone and through the gateway."""

from __future__ import annotations

import re

import pytest

from gateway import Gateway
from gateway.ratelimit import FrameRate, wait_message
from tests.gateway.consumers import EchoConsumer
from tests.gateway.helpers import assert_error

WAIT = re.compile(r"^Too many frames on this connection\. Expected available in (\d+) seconds?\.$")


class Echoes(Gateway):
    streams = {"echo": EchoConsumer, "other": EchoConsumer}


def test_bucket_allows_a_burst_then_refills_with_the_clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("gateway.ratelimit.time.monotonic", lambda: now[0])
    bucket = FrameRate(rate=2, burst=3)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)  # one frame takes 1/rate seconds
    now[0] += 0.5
    assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(0.5)
    now[0] += 60  # a long pause refills to the burst, no further
    assert [bucket.take() for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(0.5)]


def test_wait_message_rounds_up_to_whole_seconds():
    assert wait_message(0.01) == (
        "Too many frames on this connection. Expected available in 1 second."
    )
    assert wait_message(2.2).endswith("in 3 seconds.")


def test_default_rate_is_on():
    options = Gateway.as_asgi(streams={"echo": EchoConsumer}).options
    assert options.max_frames_per_second == 1000.0
    assert options.frame_burst == 1000


@pytest.mark.parametrize(
    ("name", "value"),
    [("max_frames_per_second", 0), ("max_frames_per_second", "5"), ("frame_burst", 0)],
)
def test_invalid_rates_are_refused(name, value):
    with pytest.raises(ValueError, match=rf"Echoes\.{name} must be"):
        Echoes.as_asgi(**{name: value})


async def test_frames_beyond_the_rate_get_429_with_the_wait(open_socket):
    client = await open_socket(Echoes.as_asgi(max_frames_per_second=0.5, frame_burst=3))
    for index in range(5):
        await client.send_to(
            "echo" if index % 2 else "other", {"action": "ping", "request_id": index}
        )
    for index in range(3):
        stream = "echo" if index % 2 else "other"
        assert (await client.receive_from(stream, request_id=index))["response_status"] == 200
    for index in (3, 4):
        stream = "echo" if index % 2 else "other"
        message = assert_error(
            await client.receive_from(stream, request_id=index), 429, "ping", index
        )
        match = WAIT.match(message)
        assert match is not None, message
        assert 1 <= int(match.group(1)) <= 2  # a frame every 2 s
    # A refused frame never reached the stream, and the socket stays open.
    await client.assert_no_frames(0.05)
    await client.send_to("echo", {"action": "ping", "request_id": "later"})
    assert_error(await client.receive_from("echo", request_id="later"), 429, "ping", "later")


async def test_no_rate_limit_when_disabled(open_socket):
    client = await open_socket(Echoes.as_asgi(max_frames_per_second=None, frame_burst=1))
    for index in range(50):
        await client.send_to("echo", {"action": "ping", "request_id": index})
    for index in range(50):
        assert (await client.receive_from("echo", request_id=index))["response_status"] == 200
