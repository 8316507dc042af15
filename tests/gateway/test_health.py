"""gateway.health.ReadinessView in process: the checks it runs, their answers
when a dependency is down, hung or misnamed, and draining.

The same view on the production stack (uvicorn, PostgreSQL, channels_redis) is
tested in tests/integration/test_health_server.py."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import AsyncRequestFactory, override_settings

from gateway import shutdown
from gateway.health import ReadinessView
from tests.integration.private_redis import private_redis, silent_port
from tests.services import require_redis

factory = AsyncRequestFactory()


def redis_layer(port: int) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [("127.0.0.1", port)], "prefix": f"health-{port}"},
        }
    }


async def ask(method: str = "get", **initkwargs: Any) -> tuple[int, dict[str, Any], Any]:
    request = getattr(factory, method)("/ready/")
    response = await ReadinessView.as_view(**initkwargs)(request)
    body = json.loads(response.content) if response.content else {}
    return response.status_code, body, response


@pytest.mark.django_db(transaction=True)
async def test_ready_when_database_and_layer_answer():
    status, body, response = await ask()
    assert status == 200
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database:default", "channel_layer:default"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert check["ms"] >= 0
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db(transaction=True)
async def test_head_answers_like_get_and_other_methods_are_refused():
    status, _body, _response = await ask("head")
    assert status == 200
    status, _body, _response = await ask("post")
    assert status == 405


@pytest.mark.django_db(transaction=True)
@override_settings(CHANNEL_LAYERS={})
async def test_without_a_channel_layer_only_the_database_is_checked():
    status, body, _response = await ask()
    assert status == 200
    assert set(body["checks"]) == {"database:default"}


@pytest.mark.django_db(transaction=True)
async def test_an_unknown_database_alias_is_unavailable_and_named():
    status, body, _response = await ask(databases=["default", "nope"])
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["database:default"]["status"] == "ok"
    assert body["checks"]["database:nope"] == {
        "status": "unavailable",
        "error": "ConnectionDoesNotExist",
        "ms": body["checks"]["database:nope"]["ms"],
    }


@pytest.mark.django_db(transaction=True)
async def test_an_unknown_channel_layer_alias_is_unavailable():
    status, body, _response = await ask(databases=[], channel_layers=["nope"])
    assert status == 503
    assert body["checks"]["channel_layer:nope"]["status"] == "unavailable"


@pytest.mark.redis
async def test_layer_down_answers_503_and_recovers_when_redis_is_back(caplog):
    require_redis()
    with private_redis() as redis, override_settings(CHANNEL_LAYERS=redis_layer(redis.port)):
        status, body, _response = await ask(databases=[])
        assert (status, body["checks"]["channel_layer:default"]["status"]) == (200, "ok")

        redis.stop()
        status, body, _response = await ask(databases=[], timeout=5.0)
        assert status == 503
        layer = body["checks"]["channel_layer:default"]
        assert layer["status"] == "unavailable"
        # The class name only: no host, port or driver message on the wire.
        assert "127.0.0.1" not in json.dumps(body)
        assert str(redis.port) not in json.dumps(body)
        assert any("channel_layer:default" in r.getMessage() for r in caplog.records)

        redis.start()
        deadline = time.monotonic() + 10
        while True:
            status, body, _response = await ask(databases=[])
            if status == 200 or time.monotonic() > deadline:
                break
        assert status == 200, body


@pytest.mark.redis
async def test_a_hung_layer_answers_503_within_the_timeout():
    require_redis()
    with silent_port() as port, override_settings(CHANNEL_LAYERS=redis_layer(port)):
        started = time.monotonic()
        status, body, _response = await ask(databases=[], timeout=0.5)
        elapsed = time.monotonic() - started
    assert status == 503
    assert body["checks"]["channel_layer:default"]["error"] == "timeout"
    assert elapsed < 3.0


@pytest.mark.django_db(transaction=True)
async def test_a_draining_process_is_unavailable_without_running_checks():
    await shutdown.drain()
    try:
        status, body, _response = await ask()
        assert status == 503
        assert body == {"status": "unavailable", "draining": True, "checks": {}}
    finally:
        shutdown.reset()
    status, _body, _response = await ask()
    assert status == 200
