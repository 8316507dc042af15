"""ChannelLayerMixin: add_group / remove_group (DCRF's methods), leaving on disconnect, and
the receive loop started lazily without missing anything sent to the channel."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
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


# ------------------------------------------------------------ lazy layer loop
class LayerConsumer(AsyncAPIConsumer):
    @action()
    async def ping(self, **kwargs: Any) -> tuple[Any, int]:
        return "pong", 200

    @action()
    async def my_channel(self, **kwargs: Any) -> tuple[Any, int]:
        return self.channel_name, 200

    @action()
    def join_in_thread(self, group: str, **kwargs: Any) -> tuple[Any, int]:
        # Read in an action thread: the loop must still start on the event loop.
        async_to_sync(self.channel_layer.group_add)(group, self.channel_name)
        return group, 200

    async def news_message(self, event: dict[str, Any]) -> None:
        await self.reply(action="news", data=event["text"])


async def test_a_stream_that_never_hands_out_its_channel_holds_no_channel(communicator, layer):
    comm = await communicator(LayerConsumer.as_asgi())
    assert (await request(comm, {"action": "ping", "request_id": 1}))["data"] == "pong"
    # The in-memory layer makes a queue per channel it is asked to receive on.
    assert layer.channels == {}


async def test_a_message_sent_to_the_channel_name_is_handled(communicator, layer):
    comm = await communicator(LayerConsumer.as_asgi())
    name = (await request(comm, {"action": "my_channel", "request_id": 1}))["data"]
    await layer.send(name, {"type": "news.message", "text": "direct"})
    pushed = await comm.receive_json_from(timeout=2)
    assert (pushed["action"], pushed["data"]) == ("news", "direct")


async def test_joining_a_group_from_an_action_thread_gets_its_messages(communicator, layer):
    comm = await communicator(LayerConsumer.as_asgi())
    joined = await request(comm, {"action": "join_in_thread", "group": "g", "request_id": 1})
    assert joined["response_status"] == 200
    await layer.group_send("g", {"type": "news.message", "text": "to the group"})
    pushed = await comm.receive_json_from(timeout=2)
    assert (pushed["action"], pushed["data"]) == ("news", "to the group")


class ClassGroupConsumer(LayerConsumer):
    groups = ["class-news"]


async def test_class_groups_are_joined_and_served_from_connect(communicator, layer):
    comm = await communicator(ClassGroupConsumer.as_asgi())
    await layer.group_send("class-news", {"type": "news.message", "text": "hello"})
    pushed = await comm.receive_json_from(timeout=2)
    assert pushed["data"] == "hello"


async def test_messages_sent_before_the_loop_runs_are_kept(communicator, layer):
    comm = await communicator(LayerConsumer.as_asgi())
    name = (await request(comm, {"action": "my_channel", "request_id": 1}))["data"]
    for n in range(3):
        await layer.send(name, {"type": "news.message", "text": str(n)})
    got = [(await comm.receive_json_from(timeout=2))["data"] for _ in range(3)]
    assert got == ["0", "1", "2"]


# ---------------------------------------------------------- periodic re-join
async def wait_for_member(layer: Any, group: str, present: bool) -> None:
    async with asyncio.timeout(5):
        while bool(layer.groups.get(group)) is not present:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@override_settings(CHANNELS_GATEWAY={"LAYER_GROUP_REFRESH": 0.1})
async def test_forgotten_groups_are_joined_again_every_refresh(layer):
    comm = WebsocketCommunicator(Joiner.as_asgi(), "/")
    assert (await comm.connect())[0]
    await request(comm, {"action": "join", "group": "g", "request_id": 1})
    (channel,) = layer.groups["g"]
    # A restarted Redis shard (or channels_redis' group expiry) forgets the
    # membership without this consumer's receive failing.
    await layer.group_discard("g", channel)
    await wait_for_member(layer, "g", True)
    await layer.group_send("g", {"type": "note.message", "text": "back"})
    assert (await comm.receive_json_from(timeout=2))["data"] == "back"
    await comm.disconnect()
    assert not layer.groups.get("g")
    await asyncio.sleep(0.3)  # no refresh after the disconnect joins it again
    assert not layer.groups.get("g")


@override_settings(CHANNELS_GATEWAY={"LAYER_GROUP_REFRESH": None})
async def test_refresh_none_never_joins_again(layer):
    comm = WebsocketCommunicator(Joiner.as_asgi(), "/")
    assert (await comm.connect())[0]
    await request(comm, {"action": "join", "group": "g", "request_id": 1})
    (channel,) = layer.groups["g"]
    await layer.group_discard("g", channel)
    assert await comm.receive_nothing(timeout=0.3)
    assert not layer.groups.get("g")
    await comm.disconnect()


@override_settings(CHANNELS_GATEWAY={"LAYER_GROUP_REFRESH": 0.05})
async def test_a_disconnect_during_a_refresh_leaves_no_group(layer):
    slow_add = asyncio.Event()
    original = layer.group_add

    async def group_add(group: str, channel: str) -> None:
        if slow_add.is_set():
            await asyncio.sleep(0.2)  # the refresh is under way at the disconnect
        await original(group, channel)

    layer.group_add = group_add
    try:
        comm = WebsocketCommunicator(Joiner.as_asgi(), "/")
        assert (await comm.connect())[0]
        await request(comm, {"action": "join", "group": "g", "request_id": 1})
        slow_add.set()
        await asyncio.sleep(0.15)
        await comm.disconnect()
        await asyncio.sleep(0.4)
        assert not layer.groups.get("g")
    finally:
        del layer.group_add


# ------------------------------------------------------- channel-layer outage


class FlakyLayer(InMemoryChannelLayer):
    """An in-memory layer whose first receives fail, like Redis going away."""

    failures = 0

    async def receive(self, channel):
        if FlakyLayer.failures:
            FlakyLayer.failures -= 1
            raise ConnectionError("layer unreachable")
        return await super().receive(channel)


class GroupConsumer(AsyncAPIConsumer):
    groups = ["news"]

    async def news_message(self, event):
        await self.reply(action="news", data=event["text"])


@override_settings(
    CHANNEL_LAYERS={"default": {"BACKEND": "tests.streams.test_channel_layer.FlakyLayer"}}
)
async def test_channel_layer_outage_keeps_the_stream_and_rejoins(communicator):
    from channels.layers import get_channel_layer

    FlakyLayer.failures = 3
    comm = await communicator(GroupConsumer.as_asgi())
    # Requests are served while the layer is failing.
    assert (await request(comm, {"action": "missing", "request_id": 1}))["response_status"] == 405
    await asyncio.sleep(0.5)  # the back-off retries, then re-joins "news"
    await get_channel_layer().group_send("news", {"type": "news.message", "text": "back"})
    got = await comm.receive_json_from(timeout=2)
    assert got["action"] == "news" and got["data"] == "back"


class FragileHandler(AsyncAPIConsumer):
    groups = ["fragile"]

    async def boom_message(self, event):
        raise RuntimeError("handler bug")

    async def news_message(self, event):
        await self.reply(action="news", data=event["text"])

    @action()
    async def ping(self, **kwargs):
        return "pong", 200


async def test_a_failing_group_handler_is_logged_and_the_stream_lives(communicator, caplog):
    from channels.layers import get_channel_layer

    comm = await communicator(FragileHandler.as_asgi())
    layer = get_channel_layer()
    with caplog.at_level(logging.ERROR, logger="streams.consumers"):
        await layer.group_send("fragile", {"type": "boom.message"})
        await layer.group_send("fragile", {"type": "news.message", "text": "still here"})
        got = await comm.receive_json_from(timeout=2)
    assert got["data"] == "still here"
    assert any("boom.message" in r.getMessage() for r in caplog.records)
    assert (await request(comm, {"action": "ping"}))["data"] == "pong"


class SlowDiscardLayer(InMemoryChannelLayer):
    """Leaving a group takes a while, as over the network with Redis."""

    async def group_discard(self, group, channel):
        await asyncio.sleep(0.1)
        await super().group_discard(group, channel)


class LateJoiner(AsyncAPIConsumer):
    groups = ["late-start"]

    async def join_message(self, event):
        await asyncio.sleep(0.05)  # wakes while the disconnect is leaving groups
        await self.channel_layer.group_add("joined-too-late", self.channel_name)


@override_settings(
    CHANNEL_LAYERS={"default": {"BACKEND": "tests.streams.test_channel_layer.SlowDiscardLayer"}}
)
async def test_disconnect_stops_group_handlers_before_leaving_groups():
    from channels.layers import get_channel_layer
    from channels.testing import WebsocketCommunicator

    layer = get_channel_layer()
    comm = WebsocketCommunicator(LateJoiner.as_asgi(), "/")
    assert (await comm.connect())[0]
    await layer.group_send("late-start", {"type": "join.message"})
    await asyncio.sleep(0.01)  # the handler is now sleeping
    await comm.disconnect()
    await asyncio.sleep(0.2)
    assert "joined-too-late" not in layer.groups
    assert "late-start" not in layer.groups
