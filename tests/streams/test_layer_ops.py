"""Group operations are bounded per event loop, so a wave cannot exhaust a pool."""

from __future__ import annotations

import asyncio

from channels.layers import InMemoryChannelLayer
from django.test import override_settings

from streams import layer_ops


class CountingLayer:
    def __init__(self) -> None:
        self.running = 0
        self.most = 0

    async def _op(self, group: str, channel: str) -> None:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.001)
        self.running -= 1

    group_add = group_discard = _op


async def test_at_most_layer_operations_run_at_once():
    layer = CountingLayer()
    await asyncio.gather(
        *(layer_ops.group_add(layer, "g", f"c{i}") for i in range(200)),
        *(layer_ops.group_discard(layer, "g", f"c{i}") for i in range(200)),
    )
    assert layer.most == layer_ops.LAYER_OPERATIONS
    assert layer.running == 0


class DiscardFailsLayer(InMemoryChannelLayer):
    """Joining works; leaving fails, as when Redis goes away mid-disconnect."""

    async def group_discard(self, group: str, channel: str) -> None:
        raise ConnectionError("redis is gone")


@override_settings(
    CHANNEL_LAYERS={"default": {"BACKEND": "tests.streams.test_layer_ops.DiscardFailsLayer"}}
)
async def test_disconnect_completes_when_leaving_groups_fails(caplog):
    from channels.testing import WebsocketCommunicator

    from tests.streams.test_channel_layer import GroupConsumer

    comm = WebsocketCommunicator(GroupConsumer.as_asgi(), "/")
    assert (await comm.connect())[0]
    await comm.disconnect()  # raises if the consumer ended with an exception
    assert any("could not leave group" in r.getMessage() for r in caplog.records)
