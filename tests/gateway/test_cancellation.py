"""``gateway.cancellation``: a task that must end is cancelled until it has.

Some libraries swallow a cancellation (on Python 3.11 redis-py's
``wait_for`` returns instead of raising when it lands as a command
completes); asking again every ``RECANCEL_INTERVAL`` ends such a task, and
``within`` bounds how long the gateway's teardown waits for one that never
ends. ``streams.cancellation`` re-exports these names.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

import streams.cancellation
from gateway.cancellation import cancel_and_wait, cancel_requested


async def _stubborn(swallowed: list[bool]) -> None:
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        swallowed.append(cancel_requested())  # what a library's wait_for may do
    await asyncio.sleep(10)


async def test_a_task_that_swallows_a_cancellation_is_cancelled_again():
    swallowed: list[bool] = []
    task = asyncio.ensure_future(_stubborn(swallowed))
    await asyncio.sleep(0)
    started = time.monotonic()
    assert await cancel_and_wait(task) is True
    assert task.cancelled() and swallowed == [True]
    assert time.monotonic() - started < 1


async def test_several_tasks_are_cancelled_together():
    swallowed: list[bool] = []
    tasks = {asyncio.ensure_future(_stubborn(swallowed)) for _ in range(3)}
    await asyncio.sleep(0)
    assert await cancel_and_wait(tasks, within=5) is True
    assert all(task.cancelled() for task in tasks) and swallowed == [True] * 3


async def test_within_bounds_the_wait_for_a_task_that_never_ends():
    released = False

    async def stubborn_until_released() -> None:
        while not released:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(10)

    task = asyncio.ensure_future(stubborn_until_released())
    await asyncio.sleep(0)
    started = time.monotonic()
    assert await cancel_and_wait({task}, within=0.2) is False
    assert 0.15 < time.monotonic() - started < 1.5
    assert not task.done()
    released = True
    assert await cancel_and_wait(task, within=1) is True


async def test_a_finished_or_failed_task_is_left_as_it_is():
    async def fails() -> None:
        raise ValueError("boom")

    task = asyncio.ensure_future(fails())
    await asyncio.gather(task, return_exceptions=True)
    assert await cancel_and_wait(task) is True  # retrieved, not raised or logged
    assert await cancel_and_wait(None) is True
    assert await cancel_and_wait([]) is True
    assert isinstance(task.exception(), ValueError)


async def test_the_callers_own_cancellation_propagates_and_asks_the_task_again():
    swallowed: list[bool] = []
    task = asyncio.ensure_future(_stubborn(swallowed))
    await asyncio.sleep(0)

    async def waiter() -> None:
        await cancel_and_wait(task)

    outer = asyncio.ensure_future(waiter())
    await asyncio.sleep(0.01)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    await asyncio.sleep(0.01)
    assert task.done()


def test_streams_cancellation_re_exports_the_same_helpers():
    assert streams.cancellation.cancel_and_wait is cancel_and_wait
    assert streams.cancellation.cancel_requested is cancel_requested
