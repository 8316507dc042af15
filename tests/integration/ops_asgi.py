"""ASGI application of the operations integration servers: Django over HTTP
(the readiness view), a gateway over websockets, wrapped in GracefulShutdown."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integration.ops_settings")

from django.core.asgi import get_asgi_application

django_app = get_asgi_application()


from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from gateway import Gateway  # noqa: E402
from gateway.shutdown import GracefulShutdown  # noqa: E402
from tests.integration.ops_consumers import SlowConsumer  # noqa: E402


class OpsGateway(Gateway):
    streams = {"slow": SlowConsumer}
    shutdown_grace = float(os.environ.get("OPS_TEST_GRACE", "10"))


application = GracefulShutdown(
    ProtocolTypeRouter(
        {"http": django_app, "websocket": URLRouter([path("ws/", OpsGateway.as_asgi())])}
    )
)
