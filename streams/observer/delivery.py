"""The receiving side of model events: per-process caches and per-subscriber checks.

One event reaches every subscribed consumer of a process. What does not depend
on the subscriber is computed once per process and event, by whichever
consumer gets there first, while the others await the same result:

- the instance rebuilt from the event's field values (no query);
- the serialized data, per *serializer key* (by default the consumer class,
  its serializer class and its gateway route table);
- whether the object is in each subscriber's scoped queryset, per distinct
  compiled queryset (:mod:`streams.observer.membership`, batched there).

Per subscriber there remain the permission checks, on the rebuilt instance,
and the send.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from channels.db import database_sync_to_async
from django.core.exceptions import SynchronousOnlyOperation
from django.db.models import Model
from rest_framework.exceptions import PermissionDenied

from gateway import metrics
from streams.observer.events import instance_from_event

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Entries kept per process: a few events' worth of results, for all their subscribers.
CACHE_SIZE = 512


class _Ready:
    """A computed result."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class _Running(Generic[T]):
    """A computation in progress on ``loop`` and the futures of everyone waiting for it."""

    __slots__ = ("loop", "waiters")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiters: list[asyncio.Future[T]] = []

    def wait(self) -> asyncio.Future[T]:
        waiter: asyncio.Future[T] = self.loop.create_future()
        self.waiters.append(waiter)
        return waiter


class EventCache:
    """A small LRU of results, shared by the consumers of one event loop.

    One event reaches all the subscribers of a process in the same loop turn
    (a thousand of them with Redis), so the per-subscriber path must be
    cheap: a finished result is a dict lookup; while the first caller's
    computation is running, each further caller adds one bare future to a
    list, which a single done-callback resolves. No task and no
    ``asyncio.shield`` per subscriber (a shield is an extra future, two
    callbacks and a task check each, and was half the fan-out time).

    The computation runs as one task of its own, and every caller (the first
    too) awaits its own waiter future: a caller that goes away (its socket
    closed, so its handler is cancelled) cancels only its waiter, never the
    computation the others wait for. Failures are not kept: every waiter gets
    the exception, and the next caller starts afresh.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, _Ready | _Running[Any]] = OrderedDict()

    def get_sync(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The result for ``key``, computed by ``compute()`` here if missing (no await).

        For computations that never wait (no I/O): nothing to share but the result.
        """
        entry = self._entries.get(key)
        if type(entry) is _Ready:
            self._entries.move_to_end(key)
            value: T = entry.value
            return value
        value = compute()  # an exception propagates and nothing is kept
        self._store(key, _Ready(value))
        return value

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """The result for ``key``; ``compute()`` (called only on a miss) makes the awaitable."""
        entry = self._entries.get(key)
        if type(entry) is _Ready:
            # The common case once the result is in: no future, no wait.
            self._entries.move_to_end(key)
            done: T = entry.value
            return done
        loop = asyncio.get_running_loop()
        if isinstance(entry, _Running) and entry.loop is loop:
            self._entries.move_to_end(key)
            return await entry.wait()
        running: _Running[T] = _Running(loop)
        self._store(key, running)
        task = loop.create_task(_run(compute))
        task.add_done_callback(lambda task: self._settle(key, running, task))
        return await running.wait()

    def _store(self, key: Hashable, entry: _Ready | _Running[Any]) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def _settle(self, key: Hashable, running: _Running[Any], task: asyncio.Task[Any]) -> None:
        current = self._entries.get(key) is running
        if task.cancelled():
            # Only when the loop shuts down: nobody is left to serve.
            if current:
                del self._entries[key]
            for waiter in running.waiters:
                waiter.cancel()
            return
        error = task.exception()  # also marks a failure as retrieved
        if error is None:
            value = task.result()
            if current:
                self._entries[key] = _Ready(value)
            for waiter in running.waiters:
                if not waiter.done():  # a cancelled caller's waiter is done already
                    waiter.set_result(value)
            return
        if current:
            del self._entries[key]
        for waiter in running.waiters:
            if not waiter.done():
                waiter.set_exception(error)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


async def _run(compute: Callable[[], Awaitable[T]]) -> T:
    return await compute()


cache = EventCache()


def instance_of(event: dict[str, Any]) -> Model:
    """The event's object rebuilt from its field values, shared by all subscribers.

    Rebuilding does no I/O, so this is a plain memo: no task, no wait.
    """
    return cache.get_sync((event["id"], "instance"), lambda: instance_from_event(event))


async def event_instance(event: dict[str, Any]) -> Model:
    """:func:`instance_of` for callers that await it (it never suspends)."""
    return instance_of(event)


async def serialized(event: dict[str, Any], key: Hashable, serialize: Callable[[], Any]) -> Any:
    """``serialize()`` (sync: it may query) run once per process for ``(event, key)``.

    The thread hop is only prepared on a miss: building a ``SyncToAsync`` per
    subscriber showed up in fan-out profiles.
    """
    return await cache.get((event["id"], "data", key), lambda: database_sync_to_async(serialize)())


async def cached(event: dict[str, Any], key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
    return await cache.get((event["id"], key), compute)


async def may_see(consumer: Any, action: str, obj: Model) -> bool:
    """Do ``consumer``'s permissions let it receive ``obj`` (``has_permission`` for
    ``action``, then ``has_object_permission``)?

    Permission hooks usually need no database; they run on the event loop.
    One that touches the database (Django raises ``SynchronousOnlyOperation``)
    is run again in the database thread. Unless the consumer overrides
    ``check_permissions``, both checks use one set of permission instances,
    as a DRF request does: building them was a tenth of a fan-out's time per
    subscriber, twice (docs/PERFORMANCE.md).
    """
    from streams.consumers import AsyncAPIConsumer

    permissions: list[Any] | None = None
    if type(consumer).check_permissions is AsyncAPIConsumer.check_permissions:
        permissions = await consumer.get_permissions(action=action)
        for permission in permissions:
            granted = permission.has_permission(
                scope=consumer.scope, consumer=consumer, action=action
            )
            if inspect.isawaitable(granted):
                granted = await granted
            if not granted:
                metrics.observer_denied()
                return False
    else:
        try:
            await consumer.check_permissions(action)
        except PermissionDenied:
            metrics.observer_denied()
            return False
    try:
        allowed = await _object_allowed(consumer, action, obj, permissions)
    except SynchronousOnlyOperation:
        allowed = await database_sync_to_async(_object_allowed_sync)(consumer, action, obj)
    if not allowed:
        metrics.observer_denied()
    return allowed


async def _object_allowed(
    consumer: Any, action: str, obj: Model, permissions: list[Any] | None = None
) -> bool:
    from streams.consumers import AsyncAPIConsumer

    if type(consumer).check_object_permissions is not AsyncAPIConsumer.check_object_permissions:
        # A custom override is sync by contract: run it where sync code runs.
        raise SynchronousOnlyOperation("custom check_object_permissions")
    if permissions is None:
        permissions = await consumer.get_permissions(action=action)
    for permission in permissions:
        allowed = permission.has_object_permission(
            scope=consumer.scope, consumer=consumer, action=action, obj=obj
        )
        if inspect.isawaitable(allowed):
            allowed = await allowed
        if not allowed:
            return False
    return True


def _object_allowed_sync(consumer: Any, action: str, obj: Model) -> bool:
    try:
        consumer.check_object_permissions(action, obj)
    except PermissionDenied:
        return False
    return True
