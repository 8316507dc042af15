"""The readiness view on the production stack: uvicorn, PostgreSQL and
channels_redis (a private redis-server this test starts and stops).

Ready while both answer; 503 naming the channel layer while Redis is down and
200 again once it is back, without restarting the server; 503 naming the
database when the configured database does not exist."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.integration.ops_server import ops_server
from tests.integration.private_redis import private_redis
from tests.services import require_postgres, require_redis

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


def test_ready_follows_redis_down_and_back(tmp_path):
    require_redis()
    require_postgres()
    with private_redis() as redis, ops_server(tmp_path, redis) as server:
        status, body = server.ready()
        assert status == 200, body
        assert body["checks"]["database:default"]["status"] == "ok"
        assert body["checks"]["channel_layer:default"]["status"] == "ok"

        redis.stop()
        status, body = server.ready()
        assert status == 503, body
        assert body["checks"]["database:default"]["status"] == "ok"
        assert body["checks"]["channel_layer:default"]["status"] == "unavailable"

        redis.start()
        deadline = time.monotonic() + 15
        while (status := server.ready()[0]) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == 200


def test_a_missing_database_is_unavailable(tmp_path):
    require_redis()
    require_postgres()
    missing = f"no_such_db_{uuid.uuid4().hex[:8]}"
    with private_redis() as redis, ops_server(tmp_path, redis, database=missing) as server:
        status, body = server.ready()
    assert status == 503, body
    assert body["checks"]["database:default"] == {
        "status": "unavailable",
        "error": "OperationalError",
        "ms": body["checks"]["database:default"]["ms"],
    }
    assert body["checks"]["channel_layer:default"]["status"] == "ok"
    assert missing not in json.dumps(body)
