"""The threads sync actions run in.

Channels runs every ``database_sync_to_async`` call of a process in one shared
thread (asgiref's thread-sensitive mode). A slow sync action would then stall
every other stream and connection of the process, and the events of its own
subscriptions. Sync actions run in a bounded pool instead
(``api_settings.ACTION_THREADS`` threads, like a WSGI server's), so a slow one
occupies one thread; a consumer never has two of its actions running at once
(its frame worker awaits each hop), so its requests keep their order.

Each thread has its own database connection, as in any threaded Django server;
``close_old_connections`` runs at the start and end of each hop, as Django
does around a request.

Sync code in a thread sometimes has to wait for async code: an async
permission hook checked inside an atomic action, a link resolved while a
serializer validates. ``await_from_thread`` does that. The async code's own
``database_sync_to_async`` calls come back to this same thread (asgiref's
thread-sensitive mode), on the same connection, and Channels wraps each of
them in ``close_old_connections``. Inside ``transaction.atomic()`` that
closes the connection of the open transaction (Django drops any connection
whose autocommit is not the configured one, and with ``CONN_MAX_AGE = 0`` any
connection at all): the rest of the action fails with "the connection is
closed". So while a thread waits, its connections that are inside an atomic
block are left alone by that housekeeping; the hop's own
``close_old_connections`` still runs once the block has ended.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from contextlib import contextmanager
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from django.db import close_old_connections, connections

from gateway import metrics
from streams.settings import api_settings

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def action_executor() -> ThreadPoolExecutor:
    """The process's pool for sync actions, created on first use."""
    global _executor
    if _executor is None:
        with _lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(
                    max_workers=api_settings.ACTION_THREADS, thread_name_prefix="streams-action"
                )
    return _executor


class _ActionHop(SyncToAsync):
    """One hop to an action thread, with Django's connection housekeeping inside it."""

    def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            close_old_connections()


def _queue_depth() -> int:
    # Read at scrape time only; the pool's queue is what a stalled database shows as.
    return _executor._work_queue.qsize() if _executor is not None else 0


metrics.register_queue_probe("actions", _queue_depth)


async def run_in_action_thread(func: Callable[..., Any], *args: Any) -> Any:
    """Run ``func(*args)`` in an action thread and return its result."""
    return await _ActionHop(func, thread_sensitive=False, executor=action_executor())(*args)


def _keep_open() -> None:
    """Stands in for ``close_if_unusable_or_obsolete`` on a connection inside an atomic block."""


@contextmanager
def connections_kept_in_transactions() -> Iterator[None]:
    """While inside, ``close_old_connections`` in this thread spares connections
    that are in an atomic block (see the module docstring).

    Connections are per thread in Django, so this touches only the calling
    thread's. The instance attribute shadows the method and is removed on exit.
    """
    kept = []
    for conn in connections.all(initialized_only=True):
        if conn.in_atomic_block and "close_if_unusable_or_obsolete" not in vars(conn):
            conn.close_if_unusable_or_obsolete = _keep_open  # type: ignore[method-assign]
            kept.append(conn)
    try:
        yield
    finally:
        for conn in kept:
            del conn.close_if_unusable_or_obsolete


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def await_from_thread(awaitable: Awaitable[Any]) -> Any:
    """Wait, from sync code in a thread, for ``awaitable`` run on the event loop.

    Safe inside ``transaction.atomic()``: the transaction's connection stays
    open through the database calls the awaitable makes.
    """
    with connections_kept_in_transactions():
        return async_to_sync(_await)(awaitable)


def call_in_every_action_thread(func: Callable[[], Any], timeout: float = 10) -> None:
    """Run ``func`` once in each thread of the pool (e.g. to close connections).

    Each call waits at a barrier until all of them run, which forces them onto
    distinct threads. Blocks; call it from sync code, not from the event loop.
    """
    executor = action_executor()
    count = executor._max_workers
    barrier = threading.Barrier(count)

    def task() -> None:
        try:
            func()
        finally:
            barrier.wait(timeout)

    wait_futures([executor.submit(task) for _ in range(count)], timeout=timeout * 2)
