"""ASGI application of the observer integration servers (uvicorn)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integration.observer_settings")
django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from gateway import Gateway  # noqa: E402
from tests.integration.observer_consumers import (  # noqa: E402
    ScopedItemConsumer,
    UuidItemConsumer,
)

application = ProtocolTypeRouter(
    {
        "websocket": URLRouter(
            [
                path(
                    "ws/",
                    Gateway.as_asgi(
                        streams={"items": UuidItemConsumer, "scoped": ScopedItemConsumer}
                    ),
                )
            ]
        )
    }
)
