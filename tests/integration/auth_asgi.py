"""ASGI application of the credential-lifetime integration servers (uvicorn)."""

import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integration.auth_settings")
django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework import serializers  # noqa: E402
from rest_framework.permissions import DjangoModelPermissions  # noqa: E402
from rest_framework.throttling import ScopedRateThrottle  # noqa: E402

from gateway import Gateway  # noqa: E402
from streams.auth import AuthMiddlewareStack  # noqa: E402
from streams.consumers import AsyncAPIConsumer  # noqa: E402
from streams.decorators import action  # noqa: E402
from streams.generics import GenericAsyncAPIConsumer  # noqa: E402
from streams.mixins import RetrieveModelMixin  # noqa: E402
from tests.testapp.models_permissions import PermNote  # noqa: E402


class WhoAmI(AsyncAPIConsumer):
    throttle_scope = "pings"

    @action(method="GET")
    async def whoami(self, **kwargs: Any) -> tuple[Any, int]:
        return getattr(self.scope.get("user"), "username", None) or None, 200

    @action(method="GET", throttle_classes=[ScopedRateThrottle])
    async def ping(self, **kwargs: Any) -> tuple[Any, int]:
        return "pong", 200


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = PermNote
        fields = ["id", "title"]


class Notes(RetrieveModelMixin, GenericAsyncAPIConsumer):
    """Own notes only; a custom write left undeclared and a declared read."""

    serializer_class = NoteSerializer
    permission_classes = [DjangoModelPermissions]
    queryset = PermNote.objects.all()

    def get_queryset(self, **kwargs: Any) -> Any:
        return PermNote.objects.filter(owner=self.scope["user"])

    @action()
    def archive(self, pk: Any = None, **kwargs: Any) -> tuple[Any, int]:
        self.get_queryset().filter(pk=pk).update(title="archived")
        return "archived", 200

    @action(method="GET")
    def count(self, **kwargs: Any) -> tuple[Any, int]:
        return self.get_queryset().count(), 200


class AuthGateway(Gateway):
    streams = {"me": WhoAmI, "notes": Notes}


application = ProtocolTypeRouter(
    {"websocket": URLRouter([path("ws/", AuthMiddlewareStack(AuthGateway.as_asgi()))])}
)
