"""Give freed memory back to the operating system after a wave of disconnects.

When many connections close, CPython frees their objects but the C allocator
(glibc's malloc) keeps the freed pages for reuse, so a server's resident size
stays at its peak for good. That is harmless for the next wave (the pages are
reused) but looks like a leak and keeps memory from other processes. After a
large share of the process's gateway connections has gone, the gateway asks
glibc to return free pages (``malloc_trim``), once, off the event loop.

Nothing happens where ``malloc_trim`` does not exist (musl, macOS): the
connections' memory is then reused by later connections, as before. Memory
held by CPython's own small-object arenas is not affected (an arena goes back
only when all of it is free); see docs/PERFORMANCE.md for what that leaves.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

#: Trim after at least this many connections closed since the last trim...
TRIM_AFTER_CLOSES = 256
#: ...and once the live connections are down to this share of the peak.
TRIM_BELOW_SHARE = 0.25
#: Wait this long after the last close, so a wave is trimmed once, at its end.
TRIM_DELAY = 0.25


def _find_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


class MemoryReleaser:
    """Counts this process's gateway connections and trims after waves of closes."""

    def __init__(self, trim: Callable[[int], int] | None) -> None:
        self._trim = trim
        self.live = 0
        self._peak = 0
        self._closed = 0
        self._pending: asyncio.TimerHandle | None = None
        self.trims = 0

    def opened(self) -> None:
        self.live += 1
        self._peak = max(self._peak, self.live)

    def closed(self) -> None:
        self.live -= 1
        self._closed += 1
        if self._trim is None or self._closed < TRIM_AFTER_CLOSES:
            return
        if self.live > self._peak * TRIM_BELOW_SHARE:
            return
        loop = asyncio.get_running_loop()
        if self._pending is not None:
            self._pending.cancel()
        self._pending = loop.call_later(TRIM_DELAY, self._start_trim, loop)

    def _start_trim(self, loop: asyncio.AbstractEventLoop) -> None:
        self._pending = None
        self._closed = 0
        self._peak = self.live
        self.trims += 1
        trim = self._trim
        assert trim is not None
        # malloc_trim walks the heap: milliseconds, so not on the event loop.
        loop.run_in_executor(None, trim, 0)
        logger.debug("gateway: returned freed memory to the OS (trim %d)", self.trims)


releaser = MemoryReleaser(_find_malloc_trim())
