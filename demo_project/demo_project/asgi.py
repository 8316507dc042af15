"""ASGI entry point: Django for HTTP, the demoplexer for websockets at /ws/."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_project.settings")
# Set up Django (apps, models) before importing anything that touches models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402
from library.demoplexer import Demoplexer  # noqa: E402

# Channels' session stack, plus tokens, plus: logging out (or a session that
# expires, or a password change) closes the user's sockets (docs/AUTH.md).
from streams.auth import AuthMiddlewareStack  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter([path("ws/", Demoplexer.as_asgi())]))
        ),
    }
)
