"""Run tests/integration/ops_asgi.py under uvicorn (PostgreSQL, a private Redis),
as the readiness and graceful-shutdown integration tests need it."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.private_redis import PrivateRedis, free_port
from tests.integration.test_gateway_redis import wait_for_port

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class OpsServer:
    port: int
    process: subprocess.Popen[bytes]
    prefix: str
    log_path: Path

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def ready(self) -> tuple[int, dict[str, Any]]:
        """GET /ready/: (status, JSON body)."""
        url = f"http://127.0.0.1:{self.port}/ready/"
        try:
            with urllib.request.urlopen(url, timeout=15) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@contextlib.contextmanager
def ops_server(
    tmp_path: Path, redis: PrivateRedis, database: str = "test", grace: float = 10.0
) -> Iterator[OpsServer]:
    port = free_port()
    prefix = f"ops-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.integration.ops_settings",
        "OPS_TEST_DB": database,
        "OPS_TEST_REDIS_PORT": str(redis.port),
        "OPS_TEST_PREFIX": prefix,
        "OPS_TEST_GRACE": str(grace),
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    log_path = tmp_path / f"ops-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.integration.ops_asgi:application",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "info"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for_port(port, process, log_path)
            yield OpsServer(port, process, prefix, log_path)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=15)
