"""ObserverConsumerMixin: pushes behind their subscribe reply, observers bound per class."""

from __future__ import annotations

import time
from typing import Any

import pytest

from gateway import Gateway
from streams.generics import GenericAsyncAPIConsumer
from streams.observer.generics import ObserverModelInstanceMixin
from tests.streams.observer.support import ItemConsumer, db, push
from tests.testapp.models_observer import ObsItem, ObsUuidItem

pytestmark = pytest.mark.django_db(transaction=True)


class WriteThenLinger(ItemConsumer):
    """The write's push reaches the consumer while the snapshot is still being
    prepared (the database thread lingers after the write)."""

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("many"):
            # A delete's push needs no database work, so nothing else delays it.
            ObsItem.objects.filter(pk=kwargs["instance"].pk).delete()
            time.sleep(0.2)
        return super().get_serializer(*args, **kwargs)


async def test_a_push_never_overtakes_its_subscribe_reply(clients):
    """Events are handled while actions run; the push for a change made during
    the subscribe must still come after the reply, or a client would apply the
    older snapshot over it."""
    item = await db(ObsItem.objects.create)(name="ordered", count=1)
    client = await clients(Gateway.as_asgi(streams={"items": WriteThenLinger}))
    await client.send_to(
        "items",
        {"action": "subscribe_instance", "pk": item.pk, "request_id": "o", "snapshot": True},
    )
    first = (await client.receive_frame(timeout=2))["payload"]
    second = (await client.receive_frame(timeout=2))["payload"]
    assert (first["action"], first["response_status"]) == ("subscribe_instance", 201)
    assert second == push("delete", {"pk": item.pk}, 204, "o")


def _same_qualname_consumers():
    """Two consumer classes made by one factory: same module and qualname."""

    def make(model):
        class Made(ObserverModelInstanceMixin, GenericAsyncAPIConsumer):
            queryset = model.objects.all()
            serializer_class = None

        return Made

    return make(ObsItem), make(ObsUuidItem)


def test_same_qualname_for_different_models_never_shares_groups():
    items, uuids = _same_qualname_consumers()
    assert items.__qualname__ == uuids.__qualname__
    item_groups = items.handle_instance_change.group_names_for_consumer(None, pk=1)
    uuid_groups = uuids.handle_instance_change.group_names_for_consumer(None, pk=1)
    assert set(item_groups).isdisjoint(uuid_groups)
