"""Stopping tasks that must stop, even when a cancellation gets lost.

A ``Task.cancel()`` is a request, and some libraries drop it: on Python 3.11
``asyncio.wait_for`` returns its result instead of raising when the
cancellation lands as the inner operation completes, and redis-py sends every
command through such a ``wait_for``. A consumer's channel-layer loop cancelled
at that moment goes on into its next blocking read (channels_redis blocks up
to 5 s per read), and then the next: the consumer outlives its connection and
keeps its groups. So a task that must end is cancelled again until it has.
"""

from __future__ import annotations

import asyncio
from typing import Any

#: How long to wait for a cancelled task before asking again.
RECANCEL_INTERVAL = 0.05


async def cancel_and_wait(task: asyncio.Future[Any] | None) -> None:
    """Cancel ``task`` until it is done, and wait for it; its outcome is discarded.

    If the caller is itself cancelled meanwhile, that cancellation propagates
    (after one more request to ``task``).
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        try:
            await asyncio.wait({task}, timeout=RECANCEL_INTERVAL)
        except asyncio.CancelledError:
            task.cancel()
            raise
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved


def cancel_requested() -> bool:
    """Has anyone asked the current task to stop (even if a library swallowed it)?"""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
