"""channels_redis sharded over two Redis servers (its ``hosts`` list), with
gateway streams on it: groups spread over both shards, fan-out reaches every
member whichever shard holds the group, and a shard restarted mid-test (its
groups forgotten) is recovered from, whether or not it holds the consumers'
channels: every group works again, none is left behind on either shard after
the sockets close.

Two private redis-servers on loopback ports; one channel layer per "process"
(channels_redis places a process's channels on one shard, chosen by its random
client prefix, and each group on the shard its name hashes to)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from channels.layers import get_channel_layer
from django.test import override_settings

from gateway import Gateway
from gateway.testing import GatewayCommunicator
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from tests.integration.private_redis import PrivateRedis, private_redis
from tests.services import require_redis

pytestmark = [pytest.mark.redis, pytest.mark.slow]

GROUPS = [f"room-{index}" for index in range(12)]


class RoomConsumer(AsyncAPIConsumer):
    @action()
    async def join(self, groups: list[str], **kwargs: Any) -> tuple[None, int]:
        for group in groups:
            await self.add_group(group)
        return None, 200

    async def room_message(self, event: dict[str, Any]) -> None:
        await self.reply(action="event", data=event["data"])


class RoomGateway(Gateway):
    streams = {"rooms": RoomConsumer}


@pytest.fixture
def shards() -> Iterator[tuple[PrivateRedis, PrivateRedis]]:
    require_redis()
    with private_redis() as first, private_redis() as second:
        yield first, second


def members(server: PrivateRedis, prefix: str) -> dict[str, int]:
    client = redis.Redis(host="127.0.0.1", port=server.port)
    try:
        return {
            key.decode().rsplit(":", 1)[1]: int(client.zcard(key))
            for key in client.scan_iter(match=f"{prefix}:group:*")
        }
    finally:
        client.close()


async def events(comm: GatewayCommunicator, count: int) -> list[Any]:
    got = []
    for _ in range(count):
        payload = await comm.receive_from("rooms", timeout=10)
        got.append(payload["data"])
    return got


async def fan_out_reaches_everyone(clients: list[GatewayCommunicator], tag: str) -> None:
    layer = get_channel_layer()
    for group in GROUPS:
        await layer.group_send(group, {"type": "room.message", "data": f"{tag}:{group}"})
    for comm in clients:
        assert sorted(await events(comm, len(GROUPS))) == sorted(f"{tag}:{g}" for g in GROUPS)


async def test_groups_spread_fan_out_and_a_restarted_shard_recovers(shards):
    first, second = shards
    prefix = f"shards-{uuid.uuid4().hex[:8]}"
    config = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # socket_timeout above channels_redis' 5 s blocking receive: redis-py 8
            # defaults to 5 s, which fails every idle receive (docs/OPERATIONS.md).
            "CONFIG": {
                "hosts": [
                    {"address": server.url, "socket_timeout": 10} for server in (first, second)
                ],
                "prefix": prefix,
            },
        }
    }
    refresh = {"LAYER_GROUP_REFRESH": 1.0}
    with override_settings(CHANNEL_LAYERS=config, CHANNELS_GATEWAY=refresh):
        layer = get_channel_layer()
        clients = [GatewayCommunicator(RoomGateway.as_asgi()) for _ in range(3)]
        for comm in clients:
            assert (await comm.connect())[0]
            await comm.send_to("rooms", {"action": "join", "groups": GROUPS, "request_id": 1})
            assert (await comm.receive_from("rooms", request_id=1))["response_status"] == 200
        try:
            on_first, on_second = members(first, prefix), members(second, prefix)
            assert on_first and on_second, "the groups should hash to both shards"
            assert set(on_first) | set(on_second) == set(GROUPS)
            assert set(on_first.values()) | set(on_second.values()) == {len(clients)}
            await fan_out_reaches_everyone(clients, "before")

            channel_shard = layer.consistent_hash(layer.non_local_name(await layer.new_channel()))
            # First the shard without this process's channels: the consumers'
            # receive never fails, the periodic re-join recovers its groups;
            # then the shard with them: the outage handling re-joins at once.
            for server in (second, first) if channel_shard == 0 else (first, second):
                forgotten = set(members(server, prefix))
                # Off the event loop: the consumers keep running meanwhile.
                await asyncio.to_thread(server.stop)
                await asyncio.to_thread(server.start)
                # Recovery: every group has its members again on that shard.
                expected = dict.fromkeys(forgotten, len(clients))
                async with asyncio.timeout(30):
                    # Polled: Redis has nothing to wait on.
                    while await asyncio.to_thread(members, server, prefix) != expected:  # noqa: ASYNC110
                        await asyncio.sleep(0.1)
                await fan_out_reaches_everyone(clients, f"after-{server.port}")
        finally:
            for comm in clients:
                await comm.disconnect()
        # No group left behind on either shard.
        assert members(first, prefix) == {}
        assert members(second, prefix) == {}
