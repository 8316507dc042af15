"""The receiving side of model events: per-process caches and per-subscriber checks.

One event reaches every subscribed consumer of a process. What does not depend
on the subscriber is computed once per process and event, by whichever
consumer gets there first, while the others await the same result:

- the instance rebuilt from the event's field values (no query);
- the serialized data, per *serializer key* (by default the consumer class,
  its serializer class and its gateway route table);
- list-membership answers, per consumer class, filter and user.

Per subscriber there remain the permission checks, on the rebuilt instance,
and the send.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from channels.db import database_sync_to_async
from django.core.exceptions import SynchronousOnlyOperation
from django.db.models import Model
from rest_framework.exceptions import PermissionDenied

from streams.observer.events import instance_from_event

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Entries kept per process: a few events' worth of results, for all their subscribers.
CACHE_SIZE = 512


class EventCache:
    """A small LRU of results, shared by the consumers of one event loop.

    The first caller for a key starts the computation as a task of its own
    and every caller awaits that task, so a thousand subscribers serialise
    once, not a thousand times while the first is still busy; and a caller
    that goes away (its socket closed) cancels nothing for the others.
    Failures are not kept: the next event starts afresh.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, asyncio.Task[Any]] = OrderedDict()

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        task = self._entries.get(key)
        if task is not None and task.get_loop() is loop:
            if task.done() and not task.cancelled() and task.exception() is None:
                # The common case for the 2nd..1000th subscriber: no shield, no wait.
                self._entries.move_to_end(key)
                done: T = task.result()
                return done
            self._entries.move_to_end(key)
        else:
            task = loop.create_task(_run(compute))
            self._entries[key] = task
            task.add_done_callback(lambda done: self._forget_failure(key, done))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        result: T = await asyncio.shield(task)
        return result

    def _forget_failure(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        # task.exception() also marks the failure as retrieved (no asyncio warning).
        if (task.cancelled() or task.exception() is not None) and self._entries.get(key) is task:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()


async def _run(compute: Callable[[], Awaitable[T]]) -> T:
    return await compute()


cache = EventCache()


async def event_instance(event: dict[str, Any]) -> Model:
    """The event's object rebuilt from its field values, shared by all subscribers."""

    async def build() -> Model:
        return instance_from_event(event)

    return await cache.get((event["id"], "instance"), build)


async def serialized(event: dict[str, Any], key: Hashable, serialize: Callable[[], Any]) -> Any:
    """``serialize()`` (sync: it may query) run once per process for ``(event, key)``."""
    return await cache.get((event["id"], "data", key), database_sync_to_async(serialize))


async def cached(event: dict[str, Any], key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
    return await cache.get((event["id"], key), compute)


async def may_see(consumer: Any, action: str, obj: Model) -> bool:
    """Do ``consumer``'s permissions let it receive ``obj`` (``has_permission`` for
    ``action``, then ``has_object_permission``)?

    Permission hooks usually need no database; they run on the event loop.
    One that touches the database (Django raises ``SynchronousOnlyOperation``)
    is run again in the database thread.
    """
    try:
        await consumer.check_permissions(action)
    except PermissionDenied:
        return False
    try:
        return await _object_allowed(consumer, action, obj)
    except SynchronousOnlyOperation:
        return await database_sync_to_async(_object_allowed_sync)(consumer, action, obj)


async def _object_allowed(consumer: Any, action: str, obj: Model) -> bool:
    from streams.consumers import AsyncAPIConsumer

    if type(consumer).check_object_permissions is not AsyncAPIConsumer.check_object_permissions:
        # A custom override is sync by contract: run it where sync code runs.
        raise SynchronousOnlyOperation("custom check_object_permissions")
    for permission in await consumer.get_permissions(action=action):
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
