"""AsyncJsonWebsocketDemultiplexer: channelsmultiplexer's API on the gateway."""

from __future__ import annotations

from channels.routing import URLRouter
from django.urls import re_path

import gateway
from gateway import AsyncJsonWebsocketDemultiplexer
from gateway.testing import GatewayCommunicator
from tests.gateway import consumers
from tests.gateway.consumers import EchoConsumer, JsonEchoConsumer, RefusingConsumer
from tests.gateway.helpers import assert_error


class Demultiplexer(AsyncJsonWebsocketDemultiplexer):
    applications = {"echo": EchoConsumer.as_asgi(), "json": JsonEchoConsumer}


async def test_importable_from_the_package_root():
    assert gateway.AsyncJsonWebsocketDemultiplexer is AsyncJsonWebsocketDemultiplexer
    assert issubclass(AsyncJsonWebsocketDemultiplexer, gateway.Gateway)
    assert AsyncJsonWebsocketDemultiplexer.application_close_timeout == 5


async def test_applications_table_routes_frames(open_socket):
    client = await open_socket(Demultiplexer.as_asgi())
    await client.send_to("echo", {"action": "ping", "request_id": 1})
    await client.send_to("json", {"action": "via", "request_id": 2})
    assert (await client.receive_from("echo"))["request_id"] == 1
    assert (await client.receive_from("json"))["data"] == "json"


async def test_keyword_streams_stay_with_their_route(open_socket):
    with_extra = Demultiplexer.as_asgi(extra=EchoConsumer.as_asgi())
    without = Demultiplexer.as_asgi()
    assert sorted(with_extra.routes) == ["echo", "extra", "json"]
    assert sorted(without.routes) == ["echo", "json"]
    assert sorted(Demultiplexer.applications) == ["echo", "json"]
    client = await open_socket(without)
    await client.send_to("extra", {"request_id": 1})
    assert_error(await client.receive_from(), 404, None, 1)


async def test_base_class_with_keywords_only_and_options(open_socket):
    app = AsyncJsonWebsocketDemultiplexer.as_asgi(
        echo=EchoConsumer.as_asgi(), application_close_timeout=1
    )
    assert list(app.routes) == ["echo"]
    assert app.options.application_close_timeout == 1
    client = await open_socket(app)
    await client.send_to("echo", {"request_id": 1})
    assert (await client.receive_from("echo"))["request_id"] == 1


async def test_applications_keyword_replaces_the_table():
    app = Demultiplexer.as_asgi(applications={"only": EchoConsumer})
    assert list(app.routes) == ["only"]


async def test_every_stream_starts_on_connect(open_socket):
    class Eager(EchoConsumer):
        pass

    consumers.CREATED.pop("Eager", None)
    await open_socket(AsyncJsonWebsocketDemultiplexer.as_asgi(a=Eager, b=Eager.as_asgi()))
    assert consumers.CREATED["Eager"] == 2


async def test_accepted_when_one_stream_accepts_refused_streams_answer_403(open_socket):
    app = AsyncJsonWebsocketDemultiplexer.as_asgi(no=RefusingConsumer, yes=EchoConsumer)
    client = await open_socket(app)
    await client.send_to("no", {"action": "a", "request_id": 1})
    assert_error(await client.receive_from("no"), 403, "a", 1)
    await client.send_to("yes", {"request_id": 2})
    assert (await client.receive_from("yes"))["request_id"] == 2


async def test_handshake_refused_when_every_stream_refuses():
    app = AsyncJsonWebsocketDemultiplexer.as_asgi(a=RefusingConsumer, b=RefusingConsumer)
    client = GatewayCommunicator(app, "/ws/")
    connected, code = await client.connect()
    assert (connected, code) == (False, 1000)
    await client._require_task()  # the application finished by itself


async def test_nested_routers_are_accepted(open_socket):
    rooms = URLRouter([re_path(r"^rooms/(?P<name>\w+)/$", EchoConsumer.as_asgi())])
    app = URLRouter([re_path(r"^ws/", AsyncJsonWebsocketDemultiplexer.as_asgi(rooms=rooms))])
    client = await open_socket(app, "/ws/rooms/hall/")
    await client.send_to("rooms", {"action": "scope", "request_id": 1})
    assert (await client.receive_from("rooms"))["data"]["url_kwargs"] == {"name": "hall"}
