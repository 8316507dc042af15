"""DRF throttles on consumers and actions: ``streams.throttling``."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.test import override_settings
from rest_framework.throttling import (
    AnonRateThrottle,
    ScopedRateThrottle,
    SimpleRateThrottle,
    UserRateThrottle,
)

from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.throttling import get_throttle_classes
from tests.conftest import request

pytestmark = pytest.mark.django_db(transaction=True)

THROTTLED = re.compile(r"^Request was throttled\. Expected available in \d+ seconds?\.$")


@pytest.fixture(autouse=True)
def rates(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """DRF reads DEFAULT_THROTTLE_RATES once, at import: set the class's dict instead."""
    table = {"anon": "2/min", "user": "3/min", "uploads": "1/hour", "reads": "4/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", table)
    cache.clear()
    yield table
    cache.clear()


class Limited(AsyncAPIConsumer):
    throttle_classes = [AnonRateThrottle, UserRateThrottle]

    @action(method="GET")
    async def ping(self, **kwargs: Any) -> tuple[Any, int]:
        return "pong", 200

    @action(method="GET")
    def sync_ping(self, **kwargs: Any) -> tuple[Any, int]:
        return "pong", 200

    @action(throttle_classes=[ScopedRateThrottle], throttle_scope="uploads")
    async def upload(self, **kwargs: Any) -> tuple[Any, int]:
        return "stored", 201

    @action(throttle_classes=[])
    async def free(self, **kwargs: Any) -> tuple[Any, int]:
        return "free", 200


async def statuses(comm: Any, action_name: str, count: int) -> list[int]:
    return [
        (await request(comm, {"action": action_name, "request_id": i}))["response_status"]
        for i in range(count)
    ]


async def test_anonymous_rate_then_429_with_the_wait(communicator):
    comm = await communicator(Limited.as_asgi(), user=AnonymousUser(), client=("10.0.0.1", 5000))
    assert await statuses(comm, "ping", 2) == [200, 200]
    got = await request(comm, {"action": "ping", "request_id": "third"})
    assert got["response_status"] == 429
    assert got["request_id"] == "third"
    assert got["action"] == "ping"
    assert got["data"] is None
    assert len(got["errors"]) == 1 and THROTTLED.match(got["errors"][0]), got["errors"]
    wait = int(re.findall(r"\d+", got["errors"][0])[0])
    assert 1 <= wait <= 60


async def test_the_limit_is_per_client_address_across_sockets(communicator):
    first = await communicator(Limited.as_asgi(), user=AnonymousUser(), client=("10.0.0.2", 1))
    second = await communicator(Limited.as_asgi(), user=AnonymousUser(), client=("10.0.0.2", 2))
    other = await communicator(Limited.as_asgi(), user=AnonymousUser(), client=("10.0.0.3", 3))
    assert await statuses(first, "ping", 2) == [200, 200]
    assert await statuses(second, "ping", 1) == [429]  # same address, same history
    assert await statuses(other, "ping", 1) == [200]


async def test_user_rate_is_per_user_and_counts_sync_batches(communicator):
    alice = await User.objects.acreate(username="alice")
    bob = await User.objects.acreate(username="bob")
    comm = await communicator(Limited.as_asgi(), user=alice, client=("10.0.0.4", 1))
    # Sent together, the sync calls are served in one batch: each still counts.
    for i in range(5):
        await comm.send_json_to({"action": "sync_ping", "request_id": i})
    got = [await comm.receive_json_from(timeout=2) for _ in range(5)]
    assert [g["response_status"] for g in got] == [200, 200, 200, 429, 429]
    assert [g["request_id"] for g in got] == [0, 1, 2, 3, 4]
    comm = await communicator(Limited.as_asgi(), user=bob, client=("10.0.0.4", 2))
    assert await statuses(comm, "ping", 1) == [200]


async def test_per_action_scoped_throttle_replaces_the_consumers(communicator):
    comm = await communicator(Limited.as_asgi(), user=AnonymousUser(), client=("10.0.0.5", 1))
    assert await statuses(comm, "upload", 2) == [201, 429]
    # The scoped history is its own: the consumer's anon rate is untouched.
    assert await statuses(comm, "ping", 2) == [200, 200]
    assert await statuses(comm, "free", 5) == [200] * 5


async def test_consumer_wide_scope(communicator):
    class Scoped(AsyncAPIConsumer):
        throttle_classes = [ScopedRateThrottle]
        throttle_scope = "reads"

        @action(method="GET")
        async def ping(self, **kwargs: Any) -> tuple[Any, int]:
            return "pong", 200

    comm = await communicator(Scoped.as_asgi(), user=AnonymousUser(), client=("10.0.0.6", 1))
    assert await statuses(comm, "ping", 5) == [200, 200, 200, 200, 429]


async def test_default_throttle_classes_setting(communicator):
    class Plain(AsyncAPIConsumer):
        @action(method="GET")
        async def ping(self, **kwargs: Any) -> tuple[Any, int]:
            return "pong", 200

    setting = {"DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle"]}
    with override_settings(CHANNELS_GATEWAY=setting):
        assert get_throttle_classes(Plain(), "ping") == (AnonRateThrottle,)
        comm = await communicator(Plain.as_asgi(), user=AnonymousUser(), client=("10.0.0.7", 1))
        assert await statuses(comm, "ping", 3) == [200, 200, 429]
    assert get_throttle_classes(Plain(), "ping") == ()


async def test_refused_permission_is_not_counted(communicator):
    from streams.permissions import IsAuthenticated

    class Guarded(Limited):
        permission_classes = [IsAuthenticated]

    comm = await communicator(Guarded.as_asgi(), user=AnonymousUser(), client=("10.0.0.8", 1))
    assert await statuses(comm, "ping", 3) == [403, 403, 403]  # permissions come first
    comm = await communicator(Limited.as_asgi(), user=AnonymousUser(), client=("10.0.0.8", 2))
    assert await statuses(comm, "ping", 3) == [200, 200, 429]  # the 403s were not counted


async def test_every_throttle_is_asked_and_the_longest_wait_wins(communicator):
    class Hourly(SimpleRateThrottle):
        rate = "1/hour"

        def get_cache_key(self, request: Any, view: Any) -> str:
            return "hourly-" + request.META["REMOTE_ADDR"]

    class Both(Limited):
        throttle_classes = [Hourly, AnonRateThrottle]

    comm = await communicator(Both.as_asgi(), user=AnonymousUser(), client=("10.0.0.9", 1))
    assert await statuses(comm, "ping", 1) == [200]
    got = await request(comm, {"action": "ping"})
    assert got["response_status"] == 429
    assert int(re.findall(r"\d+", got["errors"][0])[0]) > 60  # the hourly wait


def test_a_non_throttle_is_refused_naming_the_consumer():
    class Broken(AsyncAPIConsumer):
        throttle_classes = ["not a throttle"]

    from streams.throttling import get_throttle_instances

    with pytest.raises(TypeError, match="Broken's throttle_classes is not a throttle"):
        get_throttle_instances(Broken(), "ping")
