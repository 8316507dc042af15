"""channels_redis with the two read-only views tests use on the in-memory layer.

Tests check that nothing outlives a connection through
``InMemoryChannelLayer.groups`` (group -> channels) and ``.channels``
(channels with a queue). On the production stack the layer is this subclass
of ``RedisChannelLayer``: the same views, read from Redis itself (group
memberships are sorted sets there) and from the layer's receive buffers, so
the same assertions hold against the real thing. Sending and receiving are
channels_redis's own, untouched.
"""

from __future__ import annotations

from typing import Any

import redis
from channels_redis.core import RedisChannelLayer


class InspectableRedisChannelLayer(RedisChannelLayer):
    def _sync_client(self) -> redis.Redis:
        host = self.hosts[0]
        return redis.Redis.from_url(host["address"]) if "address" in host else redis.Redis(**host)

    @property
    def groups(self) -> dict[str, dict[str, float]]:
        """Every group of this layer's prefix with its members: ``{group: {channel: joined}}``."""
        marker = f"{self.prefix}:group:"
        found: dict[str, dict[str, float]] = {}
        with self._sync_client() as client:
            for key in client.scan_iter(match=f"{marker}*", count=1000):
                name = key.decode()[len(marker) :]
                members = {
                    channel.decode(): score
                    for channel, score in client.zrange(key, 0, -1, withscores=True)
                }
                if members:
                    found[name] = members
        return found

    @property
    def channels(self) -> dict[str, Any]:
        """Process-local channels with a receive buffer (someone receiving or messages waiting)."""
        return dict(self.receive_buffer)

    async def flush(self) -> None:
        """Empty the layer, local receive buffers included, as the in-memory layer's flush does.

        (channels_redis's own flush leaves this process's buffers, including
        those it leaked for channels whose receive was cancelled.)"""
        await super().flush()
        self.receive_buffer.clear()

    def __repr__(self) -> str:
        return f"InspectableRedisChannelLayer(prefix={self.prefix!r})"
