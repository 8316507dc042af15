"""Bound how many channel-layer group operations run at once in a process.

A wave of disconnects (or of subscribes) makes every consumer join or leave
its groups at the same moment. With channels_redis each operation borrows a
connection from a pool of 100 by default, so a thousand at once fail with
"Too many connections" and the groups are left to expire. Consumers run their
group operations through :func:`group_add` and :func:`group_discard`, which
let at most ``LAYER_OPERATIONS`` run at once per event loop.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

#: Group operations in flight per event loop; below channels_redis' default pool.
LAYER_OPERATIONS = 32

_limits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _limit() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    limit = _limits.get(loop)
    if limit is None:
        limit = _limits[loop] = asyncio.Semaphore(LAYER_OPERATIONS)
    return limit


def slot() -> asyncio.Semaphore:
    """The same bound for other calls on the layer's pool (the observer
    history's reads and writes): ``async with layer_ops.slot(): ...``."""
    return _limit()


async def group_add(layer: Any, group: str, channel: str) -> None:
    async with _limit():
        await layer.group_add(group, channel)


async def group_discard(layer: Any, group: str, channel: str) -> None:
    async with _limit():
        await layer.group_discard(group, channel)


def forget_channel(layer: Any, channel: str | None) -> None:
    """Drop what the layer buffers for ``channel`` once nobody receives on it.

    channels_redis keeps a receive buffer per process-local channel and does
    not drop it when a receive is cancelled inside its Redis read: one leaked
    queue per closed connection, for the life of the process. Call this when
    the task that received on ``channel`` has ended. (``receive_buffer`` is
    channels_redis's; other layers do not have it, and nothing happens.)
    """
    buffers = getattr(layer, "receive_buffer", None)
    if isinstance(buffers, dict) and channel is not None:
        buffers.pop(channel, None)
