"""Smoke run of ``benchmarks.reconnect`` at a tiny size (the mass-reconnect benchmark).

Real uvicorn processes, Redis, a writer process: the run itself checks that
every resuming client received exactly the events it missed (and every
resyncing one a snapshot); here the numbers are checked for sense, and the
query counts for the property the benchmark exists to show: a resume reads
no data, only the one access check per subscription.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from benchmarks import reconnect
from benchmarks.cli import seed_database
from tests.services import require_redis

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def test_resume_and_resync_at_a_tiny_size(tmp_path: Path) -> None:
    require_redis()
    template = seed_database(tmp_path)
    resume = asyncio.run(reconnect.run_mode("resume", template, 20, 5, 2, 0.0))
    resync = asyncio.run(reconnect.run_mode("resync", template, 20, 5, 2, 0.0))
    for result in (resume, resync):
        assert result["clients"] == 20
        assert 0 < result["median_client_s"] <= result["all_recovered_s"]
    assert resume["missed_per_client"] == 2
    # One access check (get_object) per resuming subscription, no snapshot;
    # resyncing reads the object a second time for the snapshot. On the
    # benchmark's library model a get_object is two queries (the book, its
    # prefetched tags), and each missed event replayed to the resuming clients
    # is serialised once in the server (its tags: one query per event).
    assert resume["server_queries"] == 20 * 2 + 5 * 2
    assert resync["server_queries"] == 2 * 20 * 2
