"""A per-connection frame rate: a token bucket, refilled with the clock.

The gateway asks :meth:`FrameRate.take` once per client frame that it would
route to a stream. A connection may send ``burst`` frames at once and
``rate`` frames a second for ever; beyond that its frames are answered with
429 error frames saying how long to wait, and never reach a stream. This is
the gateway's own floor against one socket monopolising a process; per-user
and per-action quotas are the consumers' DRF throttles (``streams.throttling``).

No task and no timer: the bucket is refilled from ``time.monotonic()`` when a
frame arrives, so an idle connection costs three floats.
"""

from __future__ import annotations

import math
import time

__all__ = ["FrameRate"]


class FrameRate:
    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self._tokens = self.burst
        self._stamp = time.monotonic()

    def take(self) -> float:
        """Spend one frame: ``0.0`` when allowed, else the seconds until one is."""
        now = time.monotonic()
        tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return 0.0
        self._tokens = tokens
        return (1.0 - tokens) / self.rate


def wait_message(wait: float) -> str:
    """The 429 error of a refused frame: DRF's wording, rounded up to whole seconds."""
    seconds = max(1, math.ceil(wait))
    unit = "second" if seconds == 1 else "seconds"
    return f"Too many frames on this connection. Expected available in {seconds} {unit}."
