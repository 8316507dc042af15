"""What the permission tests share: permissions answering on cue, consumers, users."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission, User
from rest_framework import permissions as drf
from rest_framework import serializers

from streams import mixins
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.generics import GenericAsyncAPIConsumer
from streams.permissions import BasePermission
from tests.conftest import request
from tests.testapp.models_permissions import PermNote


def calls_of(scope: dict[str, Any]) -> list[str]:
    return scope.setdefault("calls", [])


def make_perm(value: bool, kind: str, label: str) -> type:
    """A permission class answering ``value``: ``kind`` is sync, async or drf."""
    if kind == "drf":

        def drf_has_permission(self: Any, request: Any, view: Any) -> bool:
            # Asked at connect too (a HEAD request, as in DCRF); the calls
            # recorded are the action's.
            if request.method != "HEAD":
                calls_of(view.scope).append(label)
            return value

        return type(f"Drf{label}", (drf.BasePermission,), {"has_permission": drf_has_permission})
    if kind == "async":

        async def async_has_permission(self, scope, consumer, action, **kwargs):
            calls_of(scope).append(label)
            return value

        return type(f"Async{label}", (BasePermission,), {"has_permission": async_has_permission})

    def sync_has_permission(self, scope, consumer, action, **kwargs):
        calls_of(scope).append(label)
        return value

    return type(f"Sync{label}", (BasePermission,), {"has_permission": sync_has_permission})


def consumer_for(*classes: Any) -> type[AsyncAPIConsumer]:
    class Guarded(AsyncAPIConsumer):
        permission_classes = classes

        @action()
        async def go(self, **kwargs: Any) -> tuple[Any, int]:
            return "ok", 200

    return Guarded


async def status_of(communicator: Any, *classes: Any, **scope: Any) -> int:
    """The status of an action under ``classes``; 403 when the socket is refused.

    DRF permissions are asked at connect (as in DCRF), so a composition sure to
    refuse refuses the socket (403 frames under a gateway) before any action.
    """
    comm = WebsocketCommunicator(consumer_for(*classes).as_asgi(), "/")
    comm.scope.update(scope)
    connected, code = await comm.connect()
    if not connected:
        assert code == 4003
        return 403
    try:
        got = await request(comm, {"action": "go"})
    finally:
        await comm.disconnect()
    return int(got["response_status"])


def make_user(username: str, *codenames: str, **extra: Any) -> User:
    user = User.objects.create_user(username=username, password="x", **extra)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return User.objects.get(pk=user.pk)  # fresh: no permission cache


async def user_with(username: str, *codenames: str) -> User:
    return await database_sync_to_async(make_user)(username, *codenames)


class TokenHeader(drf.BasePermission):
    message = "A valid token is required."

    def has_permission(self, request, view):
        if request.method == "HEAD" and view.scope.get("open_socket"):
            return True  # the connect check: this socket is open, its actions are not
        return request.META.get("HTTP_AUTHORIZATION") == "Token s3cret"


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = PermNote
        fields = ["id", "title", "owner"]
        read_only_fields = ["owner"]


class NoteConsumer(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.PatchModelMixin,
    mixins.DeleteModelMixin,
    GenericAsyncAPIConsumer,
):
    queryset = PermNote.objects.all()
    serializer_class = NoteSerializer


def note_consumer(*classes: Any) -> Any:
    return type("Notes", (NoteConsumer,), {"permission_classes": classes}).as_asgi()
