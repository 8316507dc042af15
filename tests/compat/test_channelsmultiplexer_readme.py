"""channelsmultiplexer 0.0.3's README, run with only the import prefix changed.

The README's demultiplexer (class attribute and ``as_asgi(**streams)`` forms)
over consumers like its test suite's (echo, alt echo, close after the first
frame, never accept), the frames it documents (``{"stream", "payload"}`` both
ways), and the ``connect()``/``disconnect(code)`` overrides its users write on
their demultiplexer (it is a Channels consumer there).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from rest_framework import permissions as drf

from gateway.demultiplexer import AsyncJsonWebsocketDemultiplexer
from gateway.testing import GatewayCommunicator
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action


class EchoTestConsumer(AsyncJsonWebsocketConsumer):
    async def receive_json(self, content=None, **kwargs):
        await self.send_json(content)


class AltEchoTestConsumer(AsyncJsonWebsocketConsumer):
    async def receive_json(self, content=None, **kwargs):
        await self.send_json({"received": content})


class EchoCloseAfterFirstTestConsumer(AsyncJsonWebsocketConsumer):
    async def receive_json(self, content=None, **kwargs):
        await self.send_json(content)
        await self.close()


class NeverAcceptTestConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        pass


# The README's first form, verbatim.
class EchoDemultiplexerAsyncJson(AsyncJsonWebsocketDemultiplexer):
    applications = {
        "echostream": EchoTestConsumer.as_asgi(),
        "altechostream": AltEchoTestConsumer.as_asgi(),
        "closeafterfirst": EchoCloseAfterFirstTestConsumer.as_asgi(),
        "neveraccept": NeverAcceptTestConsumer.as_asgi(),
    }


# The README's second form: streams as keyword arguments of as_asgi().
keyword_form = AsyncJsonWebsocketDemultiplexer.as_asgi(
    echostream=EchoTestConsumer.as_asgi(),
    altechostream=AltEchoTestConsumer.as_asgi(),
    closeafterfirst=EchoCloseAfterFirstTestConsumer.as_asgi(),
    neveraccept=NeverAcceptTestConsumer.as_asgi(),
)


@pytest.fixture(params=["class", "keywords"])
def app(request: Any) -> Any:
    if request.param == "class":
        return EchoDemultiplexerAsyncJson.as_asgi()
    return keyword_form


async def test_readme_frames_both_ways(app):
    async with GatewayCommunicator(app, "/ws/") as client:
        # The README's frame.
        await client.send_raw('{"stream": "echostream", "payload": {"hello": "world"}}')
        assert await client.receive_frame() == {
            "stream": "echostream",
            "payload": {"hello": "world"},
        }
        await client.send_to("altechostream", {"hello": "world"})
        assert await client.receive_frame() == {
            "stream": "altechostream",
            "payload": {"received": {"hello": "world"}},
        }


async def test_a_stream_that_closes_stops_receiving_the_socket_lives(app):
    async with GatewayCommunicator(app, "/ws/") as client:
        await client.send_to("closeafterfirst", {"n": 1})
        assert await client.receive_from("closeafterfirst") == {"n": 1}
        await client.send_to("closeafterfirst", {"n": 2})
        refused = await client.receive_from("closeafterfirst")
        assert refused["response_status"] >= 400  # an error frame, not an echo
        await client.send_to("echostream", {"still": "open"})
        assert await client.receive_from("echostream") == {"still": "open"}


# ---------------------------------------------------- connect() / disconnect()
EVENTS: list[Any] = []


class SlowToLeave(AsyncJsonWebsocketConsumer):
    async def disconnect(self, code):
        await asyncio.sleep(0.1)
        EVENTS.append("child disconnected")


class GuardedDemultiplexer(AsyncJsonWebsocketDemultiplexer):
    applications = {"echostream": EchoTestConsumer.as_asgi(), "slow": SlowToLeave.as_asgi()}

    async def connect(self):
        # channelsmultiplexer users refuse sockets here, channels-style.
        if self.scope.get("user") != "allowed":
            await self.close()
            return
        EVENTS.append("connect")
        await super().connect()

    async def disconnect(self, code):
        EVENTS.append("disconnect before super")
        await super().disconnect(code)
        # super() has waited for the children's disconnect.
        EVENTS.append("disconnect after super")


async def test_connect_override_refuses_the_socket():
    EVENTS.clear()
    client = GatewayCommunicator(GuardedDemultiplexer.as_asgi(), "/ws/")
    client.scope["user"] = "stranger"
    assert await client.connect() == (False, 1000)
    assert EVENTS == ["disconnect before super", "disconnect after super"]


async def test_connect_then_disconnect_waits_for_the_children():
    EVENTS.clear()
    client = GatewayCommunicator(GuardedDemultiplexer.as_asgi(), "/ws/")
    client.scope["user"] = "allowed"
    assert (await client.connect())[0]
    await client.send_to("echostream", {"x": 1})
    assert await client.receive_from("echostream") == {"x": 1}
    await client.disconnect()
    assert EVENTS == [
        "connect",
        "disconnect before super",
        "child disconnected",
        "disconnect after super",
    ]


# ------------------------------------- DCRF's connect-time permission check
class StaffOnly(AsyncAPIConsumer):
    permission_classes = [drf.IsAdminUser]

    @action()
    async def ping(self, **kwargs):
        return "pong", 200


async def test_drf_permission_refusing_at_connect_costs_one_stream_only():
    app = AsyncJsonWebsocketDemultiplexer.as_asgi(staff=StaffOnly, echostream=EchoTestConsumer)
    async with GatewayCommunicator(app, "/ws/") as client:
        await client.send_to("staff", {"action": "ping", "request_id": 1})
        refused = await client.receive_from("staff")
        assert refused["response_status"] == 403
        assert refused["request_id"] == 1
        await client.send_to("echostream", {"alive": True})
        assert await client.receive_from("echostream") == {"alive": True}
