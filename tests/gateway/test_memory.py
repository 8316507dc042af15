"""The memory releaser trims once per wave of disconnects, off the event loop."""

from __future__ import annotations

import asyncio
import threading

from gateway import memory
from gateway.memory import MemoryReleaser


async def test_trims_once_after_a_wave_of_closes(monkeypatch):
    monkeypatch.setattr(memory, "TRIM_DELAY", 0.01)
    calls: list[tuple[int, str]] = []
    releaser = MemoryReleaser(lambda pad: calls.append((pad, threading.current_thread().name)) or 1)
    for _ in range(400):
        releaser.opened()
    for _ in range(400):
        releaser.closed()
    await asyncio.sleep(0.2)
    assert len(calls) == 1 and calls[0][0] == 0
    assert calls[0][1] != threading.current_thread().name  # not on the event loop
    assert releaser.live == 0 and releaser.trims == 1


async def test_no_trim_for_few_closes_or_while_most_connections_stay(monkeypatch):
    monkeypatch.setattr(memory, "TRIM_DELAY", 0.01)
    calls: list[int] = []
    releaser = MemoryReleaser(lambda pad: calls.append(pad) or 1)
    for _ in range(1000):
        releaser.opened()
    for _ in range(100):  # too few
        releaser.closed()
    await asyncio.sleep(0.05)
    for _ in range(400):  # 500 of 1,000 still open: above a quarter of the peak
        releaser.closed()
    await asyncio.sleep(0.05)
    assert calls == []


async def test_without_malloc_trim_nothing_happens():
    releaser = MemoryReleaser(None)
    for _ in range(300):
        releaser.opened()
    for _ in range(300):
        releaser.closed()
    await asyncio.sleep(0.01)
    assert releaser.trims == 0 and releaser.live == 0
