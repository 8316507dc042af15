"""The consumer the observer integration servers serve (registered through settings)."""

from rest_framework import serializers

from streams.generics import GenericAsyncAPIConsumer
from streams.observer.generics import ObserverModelInstanceMixin
from tests.testapp.models_observer import ObsUuidItem


class UuidItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = ObsUuidItem
        fields = ["id", "name"]


class UuidItemConsumer(ObserverModelInstanceMixin, GenericAsyncAPIConsumer):
    queryset = ObsUuidItem.objects.all()
    serializer_class = UuidItemSerializer
