"""Disconnect handling run for streams that crashed or were cancelled.

A Channels consumer interrupted mid-action never reaches its
``websocket_disconnect``, where it leaves its groups; the stream handle then
asks the connection to run that handling as a task of its own
(:meth:`gateway.stream.StreamHandle.cleanup`). :class:`Cleanups` keeps those
tasks, each bounded by ``application_close_timeout``, so the connection's
teardown can wait for them and cancel the stragglers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

__all__ = ["Cleanups"]

logger = logging.getLogger("gateway.gateway")


class Cleanups:
    """The cleanup tasks of one connection still running."""

    __slots__ = ("_tasks", "label", "timeout")

    def __init__(self, label: str, timeout: float) -> None:
        self.label = label
        self.timeout = timeout
        self._tasks: set[asyncio.Task[Any]] = set()

    def __bool__(self) -> bool:
        return bool(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(asyncio.wait_for(coro, self.timeout))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("gateway %s: a stream cleanup did not finish in time", self.label)

    async def wait(self) -> None:
        """Wait for the running cleanups, at most ``timeout`` seconds."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.timeout)

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
