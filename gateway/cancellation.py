"""Stopping tasks that must stop, even when a cancellation gets lost.

A ``Task.cancel()`` is a request, and some libraries drop it: on Python 3.11
``asyncio.wait_for`` returns its result instead of raising when the
cancellation lands as the inner operation completes, and redis-py sends every
command through such a ``wait_for``. A consumer's channel-layer loop cancelled
at that moment goes on into its next blocking read (channels_redis blocks up
to 5 s per read), and then the next: the consumer outlives its connection and
keeps its groups. So a task that must end is cancelled again until it has.

The gateway uses this for the streams still running after a disconnect
(bounded: one that never ends must not hold the connection's teardown), and
``streams.cancellation`` re-exports it for the consumers' own tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

__all__ = ["RECANCEL_INTERVAL", "cancel_and_wait", "cancel_requested"]

#: How long to wait for a cancelled task before asking again.
RECANCEL_INTERVAL = 0.05


async def cancel_and_wait(
    tasks: asyncio.Future[Any] | Iterable[asyncio.Future[Any]] | None,
    within: float | None = None,
) -> bool:
    """Cancel ``tasks`` (one or several) until they are done; True once all are.

    Without ``within`` it waits as long as that takes; with it, it gives up
    after ``within`` seconds and returns False, leaving the stragglers
    cancelled (and asked again by nobody). Outcomes are discarded: a failed
    task's exception is retrieved, so asyncio does not log it as never
    retrieved. If the caller is itself cancelled meanwhile, that cancellation
    propagates, after one more request to every task still running.
    """
    if tasks is None:
        return True
    pending = {tasks} if isinstance(tasks, asyncio.Future) else set(tasks)
    loop = asyncio.get_running_loop()
    deadline = None if within is None else loop.time() + within
    while True:
        pending = {task for task in pending if not _settle(task)}
        if not pending:
            return True
        for task in pending:
            task.cancel()
        wait = RECANCEL_INTERVAL
        if deadline is not None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            wait = min(wait, remaining)
        try:
            await asyncio.wait(pending, timeout=wait)
        except asyncio.CancelledError:
            for task in pending:
                task.cancel()
            raise


def _settle(task: asyncio.Future[Any]) -> bool:
    """Is ``task`` done? If so, its exception (if any) counts as retrieved."""
    if not task.done():
        return False
    if not task.cancelled():
        task.exception()
    return True


def cancel_requested() -> bool:
    """Has anyone asked the current task to stop (even if a library swallowed it)?"""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
