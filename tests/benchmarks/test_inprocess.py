"""benchmarks.inprocess: every operation runs in a fresh process and is counted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> dict[str, dict[str, float]]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.inprocess", "--json", "--quick", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return dict(json.loads(done.stdout))


def test_retrieve_and_the_orm_alone_are_measured() -> None:
    result = run("--only", "retrieve", "--only", "orm retrieve")
    assert set(result) == {"retrieve", "orm retrieve"}
    for row in result.values():
        assert row["calls"] > 0 and row["cpu_us"] > 0
    # Our retrieve runs the same query: it cannot take fewer Python calls.
    assert result["retrieve"]["calls"] >= result["orm retrieve"]["calls"]


def test_list_checks_its_hundred_objects() -> None:
    result = run("--only", "list")
    assert result["list"]["calls"] > 0
