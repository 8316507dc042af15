"""Smoke run of ``benchmarks.reconnect`` at a tiny size (the mass-reconnect benchmark).

Real uvicorn processes, Redis, a writer process: the run itself checks that
every resuming client received exactly the events it missed (and every
resyncing one a snapshot); here the numbers are checked for sense, and the
query counts for the property the benchmark exists to show: a resume runs
no query per client.
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
    # Resuming reads nothing per client: no access check, no snapshot. Each
    # missed event is serialized once in the server for everyone it is
    # replayed to; on the benchmark's library model that costs one query per
    # event (the book's tags). Resyncing reads the object twice per client
    # (the access check, then the snapshot), two queries each (book, tags).
    assert resume["server_queries"] == 5 * 2
    assert resync["server_queries"] == 2 * 20 * 2
