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
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any

from asgiref.sync import SyncToAsync
from django.db import close_old_connections

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


async def run_in_action_thread(func: Callable[..., Any], *args: Any) -> Any:
    """Run ``func(*args)`` in an action thread and return its result."""
    return await _ActionHop(func, thread_sensitive=False, executor=action_executor())(*args)


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
