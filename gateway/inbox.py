"""``Inbox``: the smallest FIFO a stream's child can wait on.

Every mounted stream of every connection has one, and with the compat
demultiplexer (every stream started on connect) most of them never see a
frame. ``asyncio.Queue`` allocates four deques and an ``Event`` up front, about
2 KiB: with 10 streams on 1,000 idle sockets that is 20 MB holding nothing.
An ``Inbox`` is one small object until the first item arrives; it has one
reader (the child's ``receive``), so one waiter future is all it needs.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

__all__ = ["Inbox"]

T = TypeVar("T")


class Inbox(Generic[T]):
    """Unbounded FIFO with a single reader: ``put_nowait``, ``await get()``, ``get_nowait``.

    A second concurrent ``get()`` is a bug in the caller and raises
    ``RuntimeError`` rather than silently losing a wake-up.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[T] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def put_nowait(self, item: T) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> T:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.popleft()

    async def get(self) -> T:
        while not self._items:
            if self._waiter is not None:
                raise RuntimeError("Inbox has one reader; a second get() is waiting on it")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        assert self._items is not None
        return self._items.popleft()
