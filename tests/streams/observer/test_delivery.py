"""Receiving side: one serialization per event for many subscribers; checks per subscriber."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.contrib.auth.models import User

from gateway import Gateway
from streams.observer import delivery
from streams.observer.delivery import EventCache
from streams.permissions import AllowAny, BasePermission
from tests.streams.observer.support import (
    SERIALIZATIONS,
    ItemConsumer,
    ItemSerializer,
    call,
    db,
    open_client,
    push,
)
from tests.testapp.models_observer import ObsItem

pytestmark = pytest.mark.django_db(transaction=True)


class FanSerializer(ItemSerializer):
    def to_representation(self, instance):
        SERIALIZATIONS["fan"] += 1
        return super().to_representation(instance)


class FanConsumer(ItemConsumer):
    serializer_class = FanSerializer


FAN_APP = Gateway.as_asgi(streams={"items": FanConsumer})


async def test_fan_out_serializes_once_per_event(clients):
    item = await db(ObsItem.objects.create)(name="fan")
    subscribers = [await open_client(FAN_APP) for _ in range(100)]
    try:
        for index, client in enumerate(subscribers):
            await call(
                client,
                "items",
                {"action": "subscribe_instance", "pk": item.pk, "request_id": index},
            )
        before = SERIALIZATIONS["fan"]
        start = time.perf_counter()
        await db(ObsItem.objects.filter(pk=item.pk).update)(count=1)
        for index, client in enumerate(subscribers):
            got = await client.receive_from("items", request_id=index, timeout=5)
            assert got["data"]["count"] == 1
        elapsed = time.perf_counter() - start
        assert SERIALIZATIONS["fan"] - before == 1
        assert elapsed < 5  # generous; the benchmark measures it properly
    finally:
        for client in subscribers:
            await client.disconnect()


class QueriesOnCheck(BasePermission):
    """An object permission that needs the database (so cannot run on the loop)."""

    def has_object_permission(self, scope, consumer, action, obj, **kwargs):
        return not User.objects.filter(username=f"blocked-{obj.pk}").exists()


class QueryingConsumer(ItemConsumer):
    permission_classes = [QueriesOnCheck]


class CustomCheckConsumer(ItemConsumer):
    def check_object_permissions(self, action, obj, **kwargs):
        if obj.count >= 10:
            from rest_framework.exceptions import PermissionDenied

            raise PermissionDenied()


async def test_permission_needing_the_database_runs_in_a_thread(clients):
    app = Gateway.as_asgi(streams={"items": QueryingConsumer})
    item = await db(ObsItem.objects.create)(name="q")
    client = await clients(app)
    await call(client, "items", {"action": "subscribe_instance", "pk": item.pk, "request_id": 1})
    await db(ObsItem.objects.filter(pk=item.pk).update)(count=1)
    assert (await client.receive_from("items", request_id=1))["data"]["count"] == 1
    await db(User.objects.create)(username=f"blocked-{item.pk}")
    await db(ObsItem.objects.filter(pk=item.pk).update)(count=2)
    await client.assert_no_frames(0.15)


async def test_overridden_check_object_permissions_is_used(clients):
    app = Gateway.as_asgi(streams={"items": CustomCheckConsumer})
    item = await db(ObsItem.objects.create)(name="c")
    client = await clients(app)
    await call(client, "items", {"action": "subscribe_instance", "pk": item.pk, "request_id": 1})
    await db(ObsItem.objects.filter(pk=item.pk).update)(count=1)
    assert await client.receive_from("items", request_id=1) == push(
        "update", {"id": item.pk, "name": "c", "count": 1, "color": "red", "owner": None}, 200, 1
    )
    await db(ObsItem.objects.filter(pk=item.pk).update)(count=10)
    await client.assert_no_frames(0.15)


class SameInstanceBothChecks(BasePermission):
    """Records, per instance, which checks of a push it answered."""

    seen: list[list[str]] = []

    def __init__(self) -> None:
        self.checks: list[str] = []
        type(self).seen.append(self.checks)

    async def has_permission(self, scope, consumer, action, **kwargs):
        self.checks.append(f"has_permission:{action}")
        return True

    def has_object_permission(self, scope, consumer, action, obj, **kwargs):
        self.checks.append(f"has_object_permission:{action}")
        return obj.count < 10


class OneInstancePerPush(ItemConsumer):
    permission_classes = [SameInstanceBothChecks]


async def test_a_push_is_checked_by_one_permission_instance_as_a_request_is(clients):
    client = await clients(Gateway.as_asgi(streams={"items": OneInstancePerPush}))
    item = await db(ObsItem.objects.create)(name="p")
    await call(client, "items", {"action": "subscribe_instance", "pk": item.pk, "request_id": 1})
    SameInstanceBothChecks.seen.clear()
    await db(ObsItem.objects.filter(pk=item.pk).update)(count=1)
    assert (await client.receive_from("items", request_id=1))["data"]["count"] == 1
    assert SameInstanceBothChecks.seen == [
        ["has_permission:retrieve", "has_object_permission:retrieve"]
    ]
    await db(ObsItem.objects.filter(pk=item.pk).update)(count=10)  # refused by the object check
    await client.assert_no_frames(0.15)


class CustomAsyncCheckConsumer(ItemConsumer):
    permission_classes = [AllowAny]
    refuse = False

    async def check_permissions(self, action, **kwargs):
        if type(self).refuse:
            from rest_framework.exceptions import PermissionDenied

            raise PermissionDenied()


async def test_overridden_check_permissions_is_used_for_pushes(clients):
    app = Gateway.as_asgi(streams={"items": CustomAsyncCheckConsumer})
    item = await db(ObsItem.objects.create)(name="a")
    client = await clients(app)
    await call(client, "items", {"action": "subscribe_instance", "pk": item.pk, "request_id": 1})
    await db(ObsItem.objects.filter(pk=item.pk).update)(count=1)
    assert (await client.receive_from("items", request_id=1))["data"]["count"] == 1
    CustomAsyncCheckConsumer.refuse = True
    try:
        await db(ObsItem.objects.filter(pk=item.pk).update)(count=2)
        await client.assert_no_frames(0.15)
    finally:
        CustomAsyncCheckConsumer.refuse = False


async def test_event_cache_shares_one_computation():
    cache = EventCache(size=2)
    calls = 0

    async def compute():
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return calls

    results = await asyncio.gather(*(cache.get("k", compute) for _ in range(50)))
    assert results == [1] * 50 and calls == 1
    await cache.get("a", compute)
    await cache.get("b", compute)
    assert await cache.get("k", compute) == 4  # evicted (LRU of 2): computed again


async def test_event_cache_forgets_failures_and_survives_a_cancelled_caller():
    cache = EventCache()

    async def fail():
        raise ValueError("nope")

    with pytest.raises(ValueError):
        await cache.get("f", fail)

    async def ok():
        return "fine"

    assert await cache.get("f", ok) == "fine"

    started = asyncio.Event()

    async def slow():
        started.set()
        await asyncio.sleep(0.05)
        return "done"

    first = asyncio.ensure_future(cache.get("s", slow))
    await started.wait()
    first.cancel()
    assert await cache.get("s", slow) == "done"  # the shared task was not cancelled


async def test_event_instance_is_rebuilt_without_a_query():
    event = {
        "id": "e1",
        "model": "testapp.obsitem",
        "pk": 5,
        "fields": {"id": 5, "name": "x", "count": 2},
    }
    obj = await delivery.event_instance(event)
    assert (obj.pk, obj.name, obj.count) == (5, "x", 2)
    assert obj._state.adding is False
    assert await delivery.event_instance(event) is obj


async def test_a_thousand_waiters_share_one_task_and_no_shield(monkeypatch):
    """All deliveries of one event arrive in the same loop turn (Redis): each
    waiter must cost one bare future, not a task or an ``asyncio.shield``."""
    cache = EventCache()
    loop = asyncio.get_running_loop()
    gate = loop.create_future()
    calls = 0

    async def compute():
        nonlocal calls
        calls += 1
        await gate
        return "data"

    def no_shield(*args, **kwargs):
        raise AssertionError("asyncio.shield used per waiter")

    created = []
    real_create_task = loop.create_task
    with monkeypatch.context() as patch:
        patch.setattr(asyncio, "shield", no_shield)
        patch.setattr(
            loop,
            "create_task",
            lambda coro, **kw: created.append(coro) or real_create_task(coro, **kw),
        )
        # Drive the callers by hand (no task per caller): each runs until it waits.
        callers = [cache.get("k", compute) for _ in range(1000)]
        waited = [caller.send(None) for caller in callers]
    assert len(created) == 1  # the one computation
    assert len({id(future) for future in waited}) == 1000  # a bare future each
    callers[10].close()  # a caller that goes away (its socket closed)
    waited[10].cancel()
    gate.set_result(None)
    await asyncio.wait(waited)
    results = []
    for index, caller in enumerate(callers):
        if index == 10:
            continue
        with pytest.raises(StopIteration) as stop:
            caller.send(None)
        results.append(stop.value.value)
    assert results == ["data"] * 999 and calls == 1
    assert await cache.get("k", compute) == "data"  # later callers: a plain lookup


async def test_failure_reaches_every_waiter_and_is_not_kept():
    cache = EventCache()
    attempts = 0

    async def flaky():
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0)
        if attempts == 1:
            raise ValueError("first attempt fails")
        return attempts

    results = await asyncio.gather(
        *(cache.get("x", flaky) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(result, ValueError) for result in results) and attempts == 1
    assert await cache.get("x", flaky) == 2


async def test_serialized_prepares_the_thread_hop_only_on_a_miss(monkeypatch):
    hops = []
    real = delivery.database_sync_to_async

    def counting(func):
        hops.append(func)
        return real(func)

    monkeypatch.setattr(delivery, "database_sync_to_async", counting)
    event = {"id": "e-hop", "model": "testapp.obsitem", "pk": 1, "fields": {"id": 1}}
    serializations = []

    def serialize():
        serializations.append(1)
        return {"id": 1}

    results = await asyncio.gather(
        *(delivery.serialized(event, "key", serialize) for _ in range(200))
    )
    results.append(await delivery.serialized(event, "key", serialize))
    assert results == [{"id": 1}] * 201
    assert len(hops) == 1 and len(serializations) == 1


def test_instance_of_is_a_plain_memo_without_a_loop():
    event = {"id": "e-sync", "model": "testapp.obsitem", "pk": 6, "fields": {"id": 6, "name": "s"}}
    obj = delivery.instance_of(event)  # no running loop needed: nothing is awaited
    assert obj.name == "s" and delivery.instance_of(event) is obj
    bad = {"id": "e-bad", "model": "testapp.nosuchmodel", "pk": 1, "fields": {}}
    with pytest.raises(LookupError):
        delivery.instance_of(bad)
    with pytest.raises(LookupError):  # failures are not kept
        delivery.instance_of(bad)
