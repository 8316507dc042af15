"""Consumers, serializers and helpers shared by the observer tests.

Writes go through ``database_sync_to_async`` so they commit on the database
thread, as a real action's would; the tests use
``@pytest.mark.django_db(transaction=True)`` so commits are real.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async
from rest_framework import serializers

from gateway import Gateway
from gateway.testing import GatewayCommunicator
from streams.decorators import action
from streams.filters import FieldFilterBackend
from streams.generics import GenericAsyncAPIConsumer
from streams.mixins import ListModelMixin, PatchModelMixin
from streams.observer import model_observer
from streams.observer.generics import ObserverModelInstanceMixin, ObserverModelListMixin
from streams.permissions import AllowAny, BasePermission
from tests.testapp.models_observer import ObsClassroom, ObsItem, ObsUuidItem

#: How many times each serializer class produced an object's data, by name.
SERIALIZATIONS: Counter[str] = Counter()


class ItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = ObsItem
        fields = ["id", "name", "count", "color", "owner"]

    def to_representation(self, instance: Any) -> Any:
        SERIALIZATIONS["item"] += 1
        return super().to_representation(instance)


class UuidItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = ObsUuidItem
        fields = ["id", "name"]


class OwnerOnly(BasePermission):
    """Objects are visible to their owner only; ownerless objects to everyone."""

    def has_object_permission(
        self, scope: Any, consumer: Any, action: str, obj: Any, **kw: Any
    ) -> bool:
        if obj.owner_id is None:
            return True
        user = scope.get("user")
        return user is not None and user.pk == obj.owner_id


class ItemConsumer(
    ObserverModelInstanceMixin,
    ObserverModelListMixin,
    ListModelMixin,
    PatchModelMixin,
    GenericAsyncAPIConsumer,
):
    queryset = ObsItem.objects.all()
    serializer_class = ItemSerializer
    filter_backends = [FieldFilterBackend]
    filterset_fields = ["color", "name"]
    permission_classes = [OwnerOnly]


class OwnedItemConsumer(ItemConsumer):
    """DRF's usual scoping: each user's ``get_queryset()`` holds their own items."""

    permission_classes = [AllowAny]

    def get_queryset(self, **kwargs: Any) -> Any:
        user = self.scope.get("user")
        return ObsItem.objects.filter(owner_id=getattr(user, "pk", None))


class UuidItemConsumer(ObserverModelInstanceMixin, GenericAsyncAPIConsumer):
    queryset = ObsUuidItem.objects.all()
    serializer_class = UuidItemSerializer


class ClassroomConsumer(GenericAsyncAPIConsumer):
    """DCRF's filtered-subscription example: classrooms by school, or one classroom."""

    queryset = ObsClassroom.objects.all()

    @model_observer(ObsClassroom)
    async def classroom_change(
        self, message: Any, action: Any = None, subscribing_request_ids: Any = (), **kwargs: Any
    ) -> None:
        for request_id in subscribing_request_ids:
            await self.reply(action=action, data=message, request_id=request_id)

    @classroom_change.groups_for_signal
    def classroom_change(self, instance: ObsClassroom, **kwargs: Any) -> Any:
        yield f"school__{instance.school_id}"
        yield f"pk__{instance.pk}"

    @classroom_change.groups_for_consumer
    def classroom_change(self, school: Any = None, classroom: Any = None, **kwargs: Any) -> Any:
        if school is not None:
            yield f"school__{school}"
        if classroom is not None:
            yield f"pk__{classroom}"

    @classroom_change.serializer
    def classroom_change(self, instance: ObsClassroom, action: Any, **kwargs: Any) -> Any:
        return {"pk": instance.pk, "name": instance.name, "school": instance.school_id}

    @action()
    async def subscribe_school(self, school: Any, request_id: Any = None, **kwargs: Any) -> Any:
        await self.classroom_change.subscribe(school=school, request_id=request_id)
        return None, 201

    @action()
    async def unsubscribe_school(self, school: Any, request_id: Any = None, **kwargs: Any) -> Any:
        await self.classroom_change.unsubscribe(school=school, request_id=request_id)
        return None, 204

    @action()
    async def subscribe_classroom(self, pk: Any, request_id: Any = None, **kwargs: Any) -> Any:
        await self.classroom_change.subscribe(classroom=pk, request_id=request_id)
        return None, 201


APP = Gateway.as_asgi(
    streams={
        "items": ItemConsumer,
        "owned": OwnedItemConsumer,
        "uuids": UuidItemConsumer,
        "classrooms": ClassroomConsumer,
    }
)


async def open_client(app: Any = APP, **scope: Any) -> GatewayCommunicator:
    client = GatewayCommunicator(app, "/ws/", scope=scope or None)
    connected, detail = await client.connect()
    assert connected, detail
    return client


async def call(client: GatewayCommunicator, stream: str, payload: dict[str, Any]) -> Any:
    """Send a request (it must have a request_id) and return its reply payload."""
    await client.send_to(stream, payload)
    return await client.receive_from(stream, request_id=payload["request_id"], timeout=2)


def db(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``func`` on the database thread (it commits there)."""
    return database_sync_to_async(func)


async def settle(seconds: float = 0.05) -> None:
    """Let in-flight channel-layer messages be delivered."""
    await asyncio.sleep(seconds)


def push(action: str, data: Any, status: int, request_id: Any) -> dict[str, Any]:
    return {
        "errors": [],
        "data": data,
        "action": action,
        "response_status": status,
        "request_id": request_id,
    }


class WriteWhileReading(ItemConsumer):
    """Another writer commits after the snapshot was read and before it is sent:
    ``get_serializer`` runs between the two, so the write happens there."""

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("many"):
            ObsItem.objects.create(name="racer", color="red")
        else:
            ObsItem.objects.filter(pk=kwargs["instance"].pk).update(count=42)
        return super().get_serializer(*args, **kwargs)


RACE_APP = Gateway.as_asgi(streams={"items": WriteWhileReading})
