"""ChannelLayerMixin: add_group / remove_group (DCRF's methods) and leaving on disconnect."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from tests.conftest import request


class Joiner(AsyncAPIConsumer):
    @action()
    async def join(self, group: str, **kwargs: Any) -> tuple[Any, int]:
        await self.add_group(group)
        return list(self.groups), 200

    @action()
    async def leave(self, group: str, **kwargs: Any) -> tuple[Any, int]:
        await self.remove_group(group)
        return list(self.groups), 200

    async def note_message(self, event: dict[str, Any]) -> None:
        await self.reply(action="note", data=event["text"])


class StartsInOne(Joiner):
    groups = ["fixed"]


async def test_joined_groups_receive_and_duplicates_are_one_membership(communicator):
    comm = await communicator(Joiner.as_asgi())
    for request_id in (1, 2):
        got = await request(comm, {"action": "join", "group": "g1", "request_id": request_id})
        assert got["data"] == ["g1"]
    await get_channel_layer().group_send("g1", {"type": "note.message", "text": "hello"})
    assert (await comm.receive_json_from(timeout=2))["data"] == "hello"
    assert await comm.receive_nothing(timeout=0.1)  # one membership, one delivery


async def test_leaving_a_group_not_joined_is_harmless(communicator):
    comm = await communicator(StartsInOne.as_asgi())
    got = await request(comm, {"action": "leave", "group": "never", "request_id": 1})
    assert got["data"] == ["fixed"]
    got = await request(comm, {"action": "leave", "group": "fixed", "request_id": 2})
    assert got["data"] == []
    assert StartsInOne.groups == ["fixed"]  # the class's list is not changed


async def test_added_groups_are_left_on_disconnect():
    comm = WebsocketCommunicator(Joiner.as_asgi(), "/")
    assert (await comm.connect())[0]
    await request(comm, {"action": "join", "group": "g2", "request_id": 1})
    layer = get_channel_layer()
    assert layer.groups.get("g2")
    await comm.disconnect()
    await asyncio.sleep(0)
    assert not layer.groups.get("g2")


@override_settings(CHANNEL_LAYERS={})
async def test_add_group_without_a_channel_layer_names_the_fix():
    consumer = Joiner()
    consumer.channel_layer = None
    consumer.scope = {}
    with pytest.raises(RuntimeError, match="CHANNEL_LAYERS"):
        await consumer.add_group("g")
