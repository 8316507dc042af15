"""The consumers the observer integration servers serve (registered through settings)."""

from typing import Any
from urllib.parse import parse_qs

from rest_framework import serializers

from streams.decorators import action
from streams.filters import FieldFilterBackend
from streams.generics import GenericAsyncAPIConsumer
from streams.observer import model_observer
from streams.observer.generics import ObserverModelInstanceMixin, ObserverModelListMixin
from tests.testapp.models_observer import ObsUuidItem


class UuidItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = ObsUuidItem
        fields = ["id", "name"]


class UuidItemConsumer(ObserverModelInstanceMixin, GenericAsyncAPIConsumer):
    queryset = ObsUuidItem.objects.all()
    serializer_class = UuidItemSerializer


class ScopedItemConsumer(
    ObserverModelInstanceMixin, ObserverModelListMixin, GenericAsyncAPIConsumer
):
    """Each connection sees the items named ``<who>:...``, ``who`` from the query
    string: DRF's usual per-user ``get_queryset()``, without a login."""

    queryset = ObsUuidItem.objects.all()
    serializer_class = UuidItemSerializer
    filter_backends = [FieldFilterBackend]
    filterset_fields = {"name": ["exact", "startswith"]}
    max_list_subscriptions = 2000
    max_subscriptions = 2000

    def get_queryset(self, **kwargs: Any) -> Any:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        who = query.get("who", [""])[0]
        return ObsUuidItem.objects.filter(name__startswith=f"{who}:")

    @model_observer(ObsUuidItem, scoped=True)
    async def activity(
        self, message: Any, action: Any = None, subscribing_request_ids: Any = (), **kwargs: Any
    ) -> None:
        """A custom (DCRF-style) handler, behind this consumer's get_queryset()."""
        for request_id in subscribing_request_ids:
            await self.reply(action=action, data=message, request_id=request_id)

    @action(method="GET")
    async def watch(self, request_id: Any = None, **kwargs: Any) -> Any:
        await self.activity.subscribe(request_id=request_id)
        return None, 201
