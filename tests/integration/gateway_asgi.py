"""ASGI application the gateway's Redis integration test serves with uvicorn."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integration.gateway_settings")
django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from gateway import Gateway  # noqa: E402
from tests.gateway.consumers import EchoConsumer, JsonEchoConsumer  # noqa: E402


class IntegrationGateway(Gateway):
    # Two streams with the same handler names: events must reach only the joiner.
    streams = {"a": JsonEchoConsumer, "b": JsonEchoConsumer, "plain": EchoConsumer}


application = ProtocolTypeRouter(
    {"websocket": URLRouter([path("ws/", IntegrationGateway.as_asgi())])}
)
