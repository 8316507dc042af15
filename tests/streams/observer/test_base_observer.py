"""BaseObserver: subscribe/unsubscribe bookkeeping and the channel-layer groups behind it."""

from __future__ import annotations

import pytest
from channels.layers import get_channel_layer

from streams.consumers import AsyncAPIConsumer
from streams.observer import BaseObserver, model_observer
from tests.streams.observer.support import ClassroomConsumer, call
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


async def test_subscribe_without_channel_layer_is_a_clear_error():
    class Fake:
        channel_layer = None

    with pytest.raises(Exception, match="no channel layer is configured"):
        await ClassroomConsumer.classroom_change.subscribe(Fake(), school=1)


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
