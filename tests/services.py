"""Availability checks for the real services some tests need.

On a laptop without Redis or PostgreSQL those tests skip with a reason; under
CI (``CI=true``) a missing service is a failure, never a skip.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(available: bool, reason: str) -> None:
    """Skip when ``available`` is false, except under CI where it fails."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run, not skip)")
    pytest.skip(reason)


def require_redis() -> None:
    require(
        port_open(REDIS_HOST, REDIS_PORT), f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}"
    )


def require_postgres() -> None:
    require(
        port_open(POSTGRES_HOST, POSTGRES_PORT),
        f"PostgreSQL is not reachable at {POSTGRES_HOST}:{POSTGRES_PORT}",
    )


def require_executable(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"{name} is not installed")
    assert path is not None
    return path


def run_node_tests(files: Sequence[Path], cwd: Path, env: Mapping[str, str] | None = None) -> int:
    """Run ``node --test`` on ``files``; assert none failed, return how many passed."""
    node = require_executable("node")
    result = subprocess.run(
        [node, "--test", *map(str, files)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    passed = re.search(r"^# pass (\d+)$", output, re.M)
    failed = re.search(r"^# fail (\d+)$", output, re.M)
    assert passed and failed, output[-2000:]
    assert int(failed.group(1)) == 0
    return int(passed.group(1))
