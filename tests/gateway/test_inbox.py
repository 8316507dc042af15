"""gateway.inbox.Inbox: a stream's FIFO, one reader, nothing allocated until used."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest

from gateway.inbox import Inbox


async def test_items_come_out_in_order():
    inbox: Inbox[int] = Inbox()
    for n in range(5):
        inbox.put_nowait(n)
    assert inbox.qsize() == 5
    assert [await inbox.get() for _ in range(5)] == [0, 1, 2, 3, 4]
    assert inbox.empty()


async def test_get_waits_for_a_put():
    inbox: Inbox[str] = Inbox()
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    assert not reader.done()
    inbox.put_nowait("x")
    assert await asyncio.wait_for(reader, 1) == "x"


async def test_get_nowait_on_empty_raises_queue_empty():
    with pytest.raises(asyncio.QueueEmpty):
        Inbox().get_nowait()


async def test_a_second_reader_is_refused():
    inbox: Inbox[int] = Inbox()
    first = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="one reader"):
        await inbox.get()
    inbox.put_nowait(1)
    assert await first == 1


async def test_a_cancelled_reader_leaves_it_usable():
    inbox: Inbox[int] = Inbox()
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    inbox.put_nowait(7)
    assert await asyncio.wait_for(inbox.get(), 1) == 7


def _allocated(make) -> int:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [make() for _ in range(1000)]
        size = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(kept) == 1000
    return size


def test_an_unused_inbox_is_a_fraction_of_a_queue():
    # What a stream that never gets a frame holds: under a tenth of a Queue.
    assert _allocated(Inbox) * 10 < _allocated(asyncio.Queue)
