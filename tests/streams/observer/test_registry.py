"""Which signals observers connect, and what loading observed objects costs (nothing)."""

from __future__ import annotations

import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.db.models.signals import (
    m2m_changed,
    post_delete,
    post_init,
    post_save,
    pre_init,
    pre_save,
)
from django.test.utils import CaptureQueriesContext

from gateway import Gateway
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.observer import events, model_observer, sending
from streams.observer.registry import registry, snapshot
from tests.stacks import in_memory_layer_only
from tests.streams.observer.support import (
    SERIALIZATIONS,
    ClassroomConsumer,
    ItemConsumer,
    call,
    db,
    push,
)
from tests.streams.observer.test_model_observer import PlainConsumer  # noqa: F401 (registers)
from tests.testapp.models_observer import (
    ObsClassroom,
    ObsItem,
    ObsLoadItem,
    ObsPlainItem,
    ObsSchool,
    ObsTag,
)

pytestmark = pytest.mark.django_db(transaction=True)


class LoadConsumer(AsyncAPIConsumer):
    @model_observer(ObsLoadItem)
    async def load_activity(self, message, **kwargs):
        pass

    @load_activity.groups_for_signal
    def load_activity(self, instance, **kwargs):
        yield f"value:{instance.value}"


class TagConsumer(AsyncAPIConsumer):
    @model_observer(ObsItem, many_to_many=True)
    async def item_tags(self, message, action=None, subscribing_request_ids=(), **kwargs):
        for request_id in subscribing_request_ids:
            await self.reply(action=action, data=message, request_id=request_id)

    @item_tags.serializer
    def item_tags(self, instance, action, **kwargs):
        return {"pk": instance.pk, "tags": sorted(t.name for t in instance.tags.all())}

    @action()
    async def watch(self, request_id=None, **kwargs):
        await self.item_tags.subscribe(request_id=request_id)
        return None, 201


TAG_APP = Gateway.as_asgi(streams={"tags": TagConsumer})


def test_nothing_runs_when_objects_are_loaded():
    assert registry.is_observed(ObsLoadItem)
    for model in (ObsLoadItem, ObsItem, ObsClassroom):
        assert not post_init.has_listeners(model), model
        assert not pre_init.has_listeners(model), model
    assert post_save.has_listeners(ObsLoadItem) and post_delete.has_listeners(ObsLoadItem)
    assert not registry.is_observed(ObsPlainItem)


def test_loading_observed_rows_costs_about_the_same():
    """A smoke version of benchmark 5 (10,000 rows there, <= 1.1x): generous bound here."""
    ObsLoadItem.objects.bulk_create([ObsLoadItem(name=f"n{i}", value=i) for i in range(2000)])
    ObsPlainItem.objects.bulk_create([ObsPlainItem(name=f"n{i}", value=i) for i in range(2000)])

    timings: dict[type, list[float]] = {ObsLoadItem: [], ObsPlainItem: []}
    for _ in range(5):  # alternate, so load spikes on a shared machine hit both
        for model in (ObsPlainItem, ObsLoadItem):
            start = time.perf_counter()
            assert len(list(model.objects.all())) == 2000
            timings[model].append(time.perf_counter() - start)
    # Benchmark 5 measured 0.94-1.09x at 10,000 rows; this only catches gross regressions.
    assert min(timings[ObsLoadItem]) < 3.0 * min(timings[ObsPlainItem])


def test_pre_save_reads_the_stored_row_only_for_observers_tracking_moves():
    tag = ObsTag.objects.create(name="t")
    load = ObsLoadItem.objects.create(name="l")
    item = ObsItem.objects.create(name="i")
    with CaptureQueriesContext(connection) as moving:
        load.value = 3
        load.save()
    with CaptureQueriesContext(connection) as fixed:
        item.count = 3
        item.save()
    # The tracking observer reads the row once, before the write; the others
    # don't (after the write, TagConsumer's serializer hook reads the tags).
    assert moving[0]["sql"].startswith("SELECT") and moving[1]["sql"].startswith("UPDATE")
    assert fixed[0]["sql"].startswith("UPDATE")
    # No observer of ObsItem tracks moves: no pre_save receiver at all.
    assert pre_save.has_listeners(ObsLoadItem) and not pre_save.has_listeners(ObsItem)
    assert tag.pk


def test_classroom_observer_is_registered():
    assert ClassroomConsumer.classroom_change in registry.observers_for(ObsClassroom)


async def test_many_to_many_changes_are_updates(clients):
    client = await clients(TAG_APP)
    item = await db(ObsItem.objects.create)(name="i")
    red = await db(ObsTag.objects.create)(name="red")
    blue = await db(ObsTag.objects.create)(name="blue")
    assert (await call(client, "tags", {"action": "watch", "request_id": "t"}))[
        "response_status"
    ] == 201
    await db(item.tags.add)(red, blue)
    assert await client.receive_from("tags", request_id="t") == push(
        "update", {"pk": item.pk, "tags": ["blue", "red"]}, 200, "t"
    )
    await db(red.items.remove)(item)  # from the other side
    assert await client.receive_from("tags", request_id="t") == push(
        "update", {"pk": item.pk, "tags": ["blue"]}, 200, "t"
    )
    await db(blue.items.clear)()  # clear from the other side
    assert await client.receive_from("tags", request_id="t") == push(
        "update", {"pk": item.pk, "tags": []}, 200, "t"
    )
    await db(item.tags.add)(red)
    await client.receive_from("tags", request_id="t")
    await db(item.tags.clear)()  # clear from the observed side
    assert await client.receive_from("tags", request_id="t") == push(
        "update", {"pk": item.pk, "tags": []}, 200, "t"
    )
    assert m2m_changed.has_listeners(ObsItem.tags.through)


@in_memory_layer_only
def test_nobody_subscribed_in_memory_nothing_is_built_or_sent(monkeypatch):
    """With the in-memory layer every member is in this process: a commit whose
    groups are all empty builds no envelope, serializes nothing and sends nothing."""
    sent: list[list[tuple[str, dict]]] = []
    monkeypatch.setattr(sending, "send_from_sync", lambda messages: sent.append(list(messages)))
    envelopes = []
    real_envelope = events.make_envelope
    monkeypatch.setattr(events, "make_envelope", lambda i: envelopes.append(i) or real_envelope(i))
    before = SERIALIZATIONS["item"]  # PlainConsumer.item_activity uses ItemSerializer
    item = ObsItem.objects.create(name="alone")
    assert envelopes == [] and SERIALIZATIONS["item"] == before
    assert not any(sent)

    # One member in one group: exactly that group's message is built and sent.
    observer = ItemConsumer.handle_instance_change
    (group,) = observer.signal_groups(item)
    async_to_sync(get_channel_layer().group_add)(group, "test.member")
    item.count = 1
    item.save()
    assert [g for g, _ in sent[-1]] == [group]
    assert sent[-1][0][1]["event"]["fields"]["count"] == 1
    assert SERIALIZATIONS["item"] == before  # item_activity's group is still empty


def test_layers_with_members_elsewhere_get_every_message(monkeypatch):
    """Redis: subscribers may be in other processes, so nothing is skipped."""
    sent: list[list[tuple[str, dict]]] = []
    monkeypatch.setattr(sending, "send_from_sync", lambda messages: sent.append(list(messages)))
    monkeypatch.setattr(sending, "group_probe", lambda: None)
    before = SERIALIZATIONS["item"]
    ObsItem.objects.create(name="broadcast")
    observers = registry.observers_for(ObsItem)
    assert len(sent) == 1 and len(sent[0]) >= len(observers)
    assert SERIALIZATIONS["item"] == before + 1  # once per event, not per group


def test_a_subscriber_joining_mid_transaction_gets_the_commit(monkeypatch):
    """Changes are recorded even while nobody is subscribed: the layer is asked
    at commit, so a subscription made before the commit still gets the event."""
    sent: list[list[tuple[str, dict]]] = []
    monkeypatch.setattr(sending, "send_from_sync", lambda messages: sent.append(list(messages)))
    item = ObsItem.objects.create(name="later")
    (group,) = ItemConsumer.handle_instance_change.signal_groups(item)
    with transaction.atomic():
        item.count = 7
        item.save()
        probe = sending.group_probe()  # None on channels_redis: every event is sent
        assert probe is None or not probe.any()  # nobody, while the write happens
        async_to_sync(get_channel_layer().group_add)(group, "test.late")
    # In memory exactly the one group with a member; channels_redis cannot
    # know who is subscribed elsewhere, so every group of the change is sent.
    messages = dict(sent[-1])
    assert probe is None or list(messages) == [group]
    assert messages[group]["event"]["fields"]["count"] == 7


def test_snapshot_is_a_shallow_copy_like_copy_copy():
    school = ObsSchool(pk=1, name="s")
    room = ObsClassroom(pk=2, name="r", school=school)
    room._state.adding = False
    snap = snapshot(room)
    assert type(snap) is ObsClassroom and snap is not room
    room.name = "edited after the save"
    room._state.fields_cache.clear()
    room._state.adding = True
    assert snap.name == "r" and snap._state.adding is False
    assert snap.school is school  # the related-object cache was copied: no query
    assert set(snap.__dict__) >= {"id", "name", "school_id", "_state"}
