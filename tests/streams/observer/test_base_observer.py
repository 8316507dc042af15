"""BaseObserver: subscribe/unsubscribe bookkeeping and the channel-layer groups behind it."""

from __future__ import annotations

from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.test import override_settings

from gateway import Gateway
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.observer import BaseObserver, model_observer
from streams.observer.base_observer import NO_LAYER_MESSAGE
from tests.streams.observer.support import ClassroomConsumer, ItemConsumer, call, db
from tests.testapp.models_observer import ObsItem

pytestmark = pytest.mark.django_db(transaction=True)


def members(group_count: int) -> None:
    assert len(get_channel_layer().groups) == group_count


async def test_same_group_two_request_ids_and_unsubscribe_all(clients):
    client = await clients()
    for request_id in ("a", "b"):
        await call(
            client,
            "classrooms",
            {"action": "subscribe_school", "school": 1, "request_id": request_id},
        )
    members(1)
    # Without request_id: every subscription to those groups ends (DCRF's meaning).
    await client.send_to("classrooms", {"action": "unsubscribe_school", "school": 1})
    assert (await client.receive_from("classrooms"))["response_status"] == 204
    members(0)


async def test_subscribe_without_request_id_then_unsubscribe_leaves(clients):
    client = await clients()
    await client.send_to("classrooms", {"action": "subscribe_school", "school": 2})
    await client.receive_from("classrooms")
    members(1)
    await client.send_to("classrooms", {"action": "unsubscribe_school", "school": 2})
    await client.receive_from("classrooms")
    members(0)


async def test_unsubscribe_unknown_and_twice(clients):
    client = await clients()
    for _ in range(2):
        reply = await call(
            client, "classrooms", {"action": "unsubscribe_school", "school": 3, "request_id": 1}
        )
        assert reply["response_status"] == 204
    members(0)


async def test_many_cycles_leave_nothing_behind(clients):
    client = await clients()
    for index in range(200):
        await call(
            client,
            "classrooms",
            {"action": "subscribe_school", "school": index, "request_id": index},
        )
        await call(
            client,
            "classrooms",
            {"action": "unsubscribe_school", "school": index, "request_id": index},
        )
    members(0)
    await client.disconnect()
    assert get_channel_layer().channels == {} or all(
        queue.empty() for queue in get_channel_layer().channels.values()
    )


def test_names_with_underscore_are_refused():
    with pytest.raises((TypeError, RuntimeError)) as excinfo:

        class Bad(AsyncAPIConsumer):
            @model_observer(ObsItem)
            async def _hidden(self, message, **kwargs):
                pass

    error = excinfo.value if isinstance(excinfo.value, TypeError) else excinfo.value.__cause__
    assert "starts with an underscore" in str(error)


def test_hooks_return_the_observer_for_stacking():
    async def handler(self, message, **kwargs):
        pass

    def groups(observer, *args, **kwargs):
        yield "g"

    observer = BaseObserver(handler, partition="stacking-test")
    assert observer.groups(groups) is observer
    assert observer.serializer(groups) is observer
    assert observer.groups_for_signal(groups) is observer
    assert observer.groups_for_consumer(groups) is observer
    assert len(list(observer.group_names_for_signal())) == 1


async def test_subscribing_without_a_channel_layer_answers_why(clients, caplog):
    item = await db(ObsItem.objects.create)(name="a")
    with override_settings(CHANNEL_LAYERS={}):
        client = await clients()
        reply = await call(
            client, "items", {"action": "subscribe_instance", "pk": item.pk, "request_id": "s"}
        )
    assert reply["response_status"] == 500
    assert reply["errors"] == [NO_LAYER_MESSAGE]
    assert "ItemConsumer cannot subscribe" in caplog.text
    assert "set CHANNEL_LAYERS in the settings" in caplog.text


async def test_message_for_a_group_left_is_ignored():
    calls = []

    class Consumer:
        pass

    consumer = Consumer()

    async def handler(self, message, **kwargs):
        calls.append(message)

    observer = BaseObserver(handler)
    await observer.receive(consumer, {"type": "handler", "body": {}, "group": "nope"})
    assert calls == []


# ------------------------------------------------------- subscription cap (429)
class CappedClassrooms(ClassroomConsumer):
    max_subscriptions = 3

    @action()
    async def subscribe_both(
        self, school: Any, pk: Any, request_id: Any = None, **kwargs: Any
    ) -> Any:
        """One subscribe that joins two groups (the school's and the classroom's)."""
        await self.classroom_change.subscribe(school=school, classroom=pk, request_id=request_id)
        return None, 201


CAPPED_APP = Gateway.as_asgi(streams={"capped": CappedClassrooms, "items": ItemConsumer})


async def subscribe_school(client, school, request_id, stream="capped"):
    return await call(
        client, stream, {"action": "subscribe_school", "school": school, "request_id": request_id}
    )


async def test_subscriptions_beyond_the_cap_are_429_and_join_nothing(clients):
    client = await clients(CAPPED_APP)
    for school in range(3):
        assert (await subscribe_school(client, school, school))["response_status"] == 201
    members(3)
    refused = await subscribe_school(client, 99, "one-too-many")
    assert refused["response_status"] == 429 and refused["data"] is None
    assert refused["errors"] == [
        "Too many subscriptions on this stream (limit 3); unsubscribe before subscribing again."
    ]
    members(3)
    # A second request_id on a group already joined is a subscription too.
    assert (await subscribe_school(client, 0, "again"))["response_status"] == 429
    # Repeating an existing subscription adds nothing, so it is not refused.
    assert (await subscribe_school(client, 2, 2))["response_status"] == 201
    # The socket and the other streams live on; unsubscribing frees a slot.
    await call(client, "items", {"action": "list", "request_id": "other-stream"})
    reply = await call(
        client, "capped", {"action": "unsubscribe_school", "school": 0, "request_id": 0}
    )
    assert reply["response_status"] == 204
    assert (await subscribe_school(client, 99, "now-fits"))["response_status"] == 201
    members(3)


async def test_a_subscribe_joining_several_groups_is_refused_whole(clients):
    client = await clients(CAPPED_APP)
    for school in range(2):
        await subscribe_school(client, school, school)
    reply = await call(
        client,
        "capped",
        {"action": "subscribe_both", "school": 7, "pk": 8, "request_id": "both"},
    )
    assert reply["response_status"] == 429
    members(2)  # neither of the two groups was joined


async def test_cap_defaults_from_the_max_subscriptions_setting(clients):
    item = await db(ObsItem.objects.create)(name="capped")
    with override_settings(CHANNELS_GATEWAY={"MAX_SUBSCRIPTIONS": 2}):
        client = await clients()
        reply = await call(
            client,
            "items",
            {"action": "subscribe_instance", "pk": item.pk, "request_id": "instance"},
        )
        assert reply["response_status"] == 201
        reply = await call(client, "items", {"action": "subscribe_list", "request_id": "list"})
        assert reply["response_status"] == 201
        # List subscriptions count like instance subscriptions.
        refused = await call(client, "items", {"action": "subscribe_list", "request_id": "list2"})
        assert refused["response_status"] == 429
        refused = await call(
            client, "items", {"action": "subscribe_instance", "pk": item.pk, "request_id": "i2"}
        )
        assert refused["response_status"] == 429
        # Nothing half-made: the refused list subscription gets no pushes.
        await db(ObsItem.objects.filter(pk=item.pk).update)(count=9)
        got = [await client.receive_from("items") for _ in range(2)]
        assert sorted(frame["request_id"] for frame in got) == ["instance", "list"]
        await client.assert_no_frames()


async def test_no_cap_when_the_setting_is_none(clients):
    with override_settings(CHANNELS_GATEWAY={"MAX_SUBSCRIPTIONS": None}):
        client = await clients()
        # In batches: the gateway's own in-flight cap (100) must not interfere.
        for first in range(0, 1005, 50):
            batch = range(first, min(first + 50, 1005))
            for school in batch:
                await client.send_to(
                    "classrooms",
                    {"action": "subscribe_school", "school": school, "request_id": school},
                )
            for school in batch:
                reply = await client.receive_from("classrooms", request_id=school)
                assert reply["response_status"] == 201
    members(1005)


async def test_a_subscribe_that_fails_halfway_leaves_no_group_joined(clients, monkeypatch):
    # The layer joins the first group, then fails: the client gets a 503 and
    # must not keep receiving the first group's events.
    layer = get_channel_layer()
    real_group_add = layer.group_add
    calls: list[str] = []

    async def flaky_group_add(group: str, channel: str) -> None:
        calls.append(group)
        if len(set(calls)) > 1:
            raise ConnectionError("layer went away")
        await real_group_add(group, channel)

    monkeypatch.setattr(layer, "group_add", flaky_group_add)
    client = await clients(CAPPED_APP)
    reply = await call(
        client,
        "capped",
        {"action": "subscribe_both", "school": 7, "pk": 8, "request_id": "both"},
    )
    assert reply["response_status"] == 503
    members(0)
