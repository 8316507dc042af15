"""The readiness view on the production stack: uvicorn, PostgreSQL and
channels_redis (a private redis-server this test starts and stops).

Ready while both answer; 503 naming the channel layer while Redis is down and
200 again once it is back, without restarting the server; 503 naming the
database when the configured database does not exist."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.private_redis import PrivateRedis, free_port, private_redis
from tests.integration.test_gateway_redis import wait_for_port
from tests.services import require_postgres, require_redis

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def ops_server(tmp_path: Path, redis: PrivateRedis, database: str = "test") -> Iterator[int]:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.integration.ops_settings",
        "OPS_TEST_DB": database,
        "OPS_TEST_REDIS_PORT": str(redis.port),
        "OPS_TEST_PREFIX": f"ops-{uuid.uuid4().hex[:10]}",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    log_path = tmp_path / f"ops-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.integration.ops_asgi:application",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for_port(port, process, log_path)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def ready(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready/", timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_ready_follows_redis_down_and_back(tmp_path):
    require_redis()
    require_postgres()
    with private_redis() as redis, ops_server(tmp_path, redis) as port:
        status, body = ready(port)
        assert status == 200, body
        assert body["checks"]["database:default"]["status"] == "ok"
        assert body["checks"]["channel_layer:default"]["status"] == "ok"

        redis.stop()
        status, body = ready(port)
        assert status == 503, body
        assert body["checks"]["database:default"]["status"] == "ok"
        assert body["checks"]["channel_layer:default"]["status"] == "unavailable"

        redis.start()
        deadline = time.monotonic() + 15
        while (status := ready(port)[0]) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == 200


def test_a_missing_database_is_unavailable(tmp_path):
    require_redis()
    require_postgres()
    missing = f"no_such_db_{uuid.uuid4().hex[:8]}"
    with private_redis() as redis, ops_server(tmp_path, redis, database=missing) as port:
        status, body = ready(port)
    assert status == 503, body
    assert body["checks"]["database:default"] == {
        "status": "unavailable",
        "error": "OperationalError",
        "ms": body["checks"]["database:default"]["ms"],
    }
    assert body["checks"]["channel_layer:default"]["status"] == "ok"
    assert missing not in json.dumps(body)
