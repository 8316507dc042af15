"""ASGI application of the credential-lifetime integration servers (uvicorn)."""

import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integration.auth_settings")
django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.throttling import ScopedRateThrottle  # noqa: E402

from gateway import Gateway  # noqa: E402
from streams.auth import AuthMiddlewareStack  # noqa: E402
from streams.consumers import AsyncAPIConsumer  # noqa: E402
from streams.decorators import action  # noqa: E402


class WhoAmI(AsyncAPIConsumer):
    throttle_scope = "pings"

    @action(method="GET")
    async def whoami(self, **kwargs: Any) -> tuple[Any, int]:
        return getattr(self.scope.get("user"), "username", None) or None, 200

    @action(method="GET", throttle_classes=[ScopedRateThrottle])
    async def ping(self, **kwargs: Any) -> tuple[Any, int]:
        return "pong", 200


class AuthGateway(Gateway):
    streams = {"me": WhoAmI}


application = ProtocolTypeRouter(
    {"websocket": URLRouter([path("ws/", AuthMiddlewareStack(AuthGateway.as_asgi()))])}
)
