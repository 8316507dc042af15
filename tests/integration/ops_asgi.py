"""ASGI application of the operations integration servers: Django over HTTP
(the readiness view), a gateway over websockets, wrapped in GracefulShutdown."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integration.ops_settings")

from django.core.asgi import get_asgi_application

django_app = get_asgi_application()

import asyncio  # noqa: E402
from typing import Any  # noqa: E402

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from gateway import Gateway  # noqa: E402
from gateway.shutdown import GracefulShutdown  # noqa: E402
from streams.consumers import AsyncAPIConsumer  # noqa: E402
from streams.decorators import action  # noqa: E402


class SlowConsumer(AsyncAPIConsumer):
    @action()
    async def wait(self, seconds: float, **kwargs: Any) -> tuple[dict[str, Any], int]:
        await asyncio.sleep(seconds)
        return {"slept": seconds}, 200

    @action()
    async def join(self, group: str, **kwargs: Any) -> tuple[None, int]:
        await self.add_group(group)
        return None, 200


class OpsGateway(Gateway):
    streams = {"slow": SlowConsumer}
    shutdown_grace = float(os.environ.get("OPS_TEST_GRACE", "10"))


application = GracefulShutdown(
    ProtocolTypeRouter(
        {"http": django_app, "websocket": URLRouter([path("ws/", OpsGateway.as_asgi())])}
    )
)
