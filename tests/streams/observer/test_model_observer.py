"""ModelObserver: DCRF's hooks, group moves (create/update/delete per group), failures."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from channels.layers import get_channel_layer

from gateway import Gateway
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.generics import GenericAsyncAPIConsumer
from streams.observer import Action, ModelObserver, model_observer
from tests.streams.observer.support import ItemSerializer, call, db, push
from tests.testapp.models_observer import ObsClassroom, ObsItem, ObsSchool, ObsUuidItem

pytestmark = pytest.mark.django_db(transaction=True)


class PlainConsumer(AsyncAPIConsumer):
    """DCRF-style observers on a plain AsyncAPIConsumer (no mixin)."""

    @model_observer(ObsUuidItem)
    async def uuid_activity(self, message, action=None, subscribing_request_ids=(), **kwargs):
        for request_id in subscribing_request_ids:
            await self.reply(action=action, data=message, request_id=request_id)

    @model_observer(ObsItem, serializer_class=ItemSerializer)
    async def item_activity(self, message, action=None, subscribing_request_ids=(), **kwargs):
        for request_id in subscribing_request_ids:
            await self.reply(action=action, data=message, request_id=request_id)

    @model_observer(ObsItem)
    async def fragile(self, message, action=None, subscribing_request_ids=(), **kwargs):
        for request_id in subscribing_request_ids:
            await self.reply(action=action, data=message, request_id=request_id)

    @fragile.serializer
    def fragile(self, instance, action, **kwargs):
        if instance.name == "explode":
            raise ValueError("serializer hook failed")
        return {"name": instance.name, "action": action.value}

    @model_observer(ObsItem)
    async def broken_handler(self, message, **kwargs):
        raise RuntimeError("handler failed")

    @action()
    async def watch(self, name: str, request_id: Any = None, **kwargs: Any) -> Any:
        await getattr(type(self), name).subscribe(self, request_id=request_id)
        return None, 201

    @action()
    async def ping(self, **kwargs: Any) -> Any:
        return "pong", 200


APP = Gateway.as_asgi(streams={"plain": PlainConsumer})


async def watch(client, name, request_id):
    reply = await call(client, "plain", {"action": "watch", "name": name, "request_id": request_id})
    assert reply["response_status"] == 201


async def test_default_body_is_pk_and_uuid_is_a_string(clients):
    client = await clients(APP)
    await watch(client, "uuid_activity", "u")
    item = await db(ObsUuidItem.objects.create)(name="x")
    assert await client.receive_from("plain", request_id="u") == push(
        "create", {"pk": str(item.pk)}, 200, "u"
    )


async def test_serializer_class_body(clients):
    client = await clients(APP)
    await watch(client, "item_activity", "i")
    item = await db(ObsItem.objects.create)(name="x")
    got = await client.receive_from("plain", request_id="i")
    assert got["action"] == "create"
    assert got["data"] == {"id": item.pk, "name": "x", "count": 0, "color": "red", "owner": None}


async def test_serializer_hook_that_raises_drops_event_socket_lives(clients, caplog):
    client = await clients(APP)
    await watch(client, "fragile", "f")
    with caplog.at_level(logging.ERROR, logger="streams.observer.registry"):
        await db(ObsItem.objects.create)(name="explode")
        await client.assert_no_frames(0.15)
    assert "event for testapp.obsitem" in caplog.text and "serializer hook failed" in caplog.text
    await db(ObsItem.objects.create)(name="fine")
    assert await client.receive_from("plain", request_id="f") == push(
        "create", {"name": "fine", "action": "create"}, 200, "f"
    )


async def test_handler_that_raises_is_logged_socket_lives(clients, caplog):
    client = await clients(APP)
    await watch(client, "broken_handler", "b")
    with caplog.at_level(logging.ERROR, logger="streams.observer.base_observer"):
        await db(ObsItem.objects.create)(name="x")
        await client.assert_no_frames(0.15)
    assert "handler 'broken_handler' failed" in caplog.text
    # The record says where: stream, event action and the subscribing request_ids.
    [record] = [r for r in caplog.records if "broken_handler" in r.getMessage()]
    assert (record.stream, record.action, record.request_id) == ("plain", "create", ["b"])
    assert "stream 'plain', action 'create', request_ids ['b']" in record.getMessage()
    assert (await call(client, "plain", {"action": "ping", "request_id": 1}))["data"] == "pong"


# ------------------------------------------------------------- group moves
async def test_classroom_moving_between_schools(clients):
    one = await db(ObsSchool.objects.create)(name="one")
    two = await db(ObsSchool.objects.create)(name="two")
    room = await db(ObsClassroom.objects.create)(name="r", school=one)
    client = await clients()
    await call(
        client, "classrooms", {"action": "subscribe_school", "school": one.pk, "request_id": "one"}
    )
    await call(
        client, "classrooms", {"action": "subscribe_school", "school": two.pk, "request_id": "two"}
    )
    await call(
        client, "classrooms", {"action": "subscribe_classroom", "pk": room.pk, "request_id": "room"}
    )

    room.name = "renamed"
    await db(room.save)()
    body = {"pk": room.pk, "name": "renamed", "school": one.pk}
    assert await client.receive_from("classrooms", request_id="one") == push(
        "update", body, 200, "one"
    )
    assert await client.receive_from("classrooms", request_id="room") == push(
        "update", body, 200, "room"
    )
    await client.assert_no_frames(0.1)

    room.school = two
    await db(room.save)()
    body = {"pk": room.pk, "name": "renamed", "school": two.pk}
    assert await client.receive_from("classrooms", request_id="one") == push(
        "delete", body, 200, "one"
    )
    assert await client.receive_from("classrooms", request_id="two") == push(
        "create", body, 200, "two"
    )
    assert await client.receive_from("classrooms", request_id="room") == push(
        "update", body, 200, "room"
    )
    await client.assert_no_frames(0.1)


async def test_bulk_update_moves_classrooms(clients):
    one = await db(ObsSchool.objects.create)(name="one")
    two = await db(ObsSchool.objects.create)(name="two")
    rooms = [await db(ObsClassroom.objects.create)(name=f"r{i}", school=one) for i in range(3)]
    client = await clients()
    await call(
        client, "classrooms", {"action": "subscribe_school", "school": one.pk, "request_id": "one"}
    )
    await call(
        client, "classrooms", {"action": "subscribe_school", "school": two.pk, "request_id": "two"}
    )
    await db(ObsClassroom.objects.filter(pk__in=[r.pk for r in rooms[:2]]).update)(school=two)
    left = [await client.receive_from("classrooms", request_id="one") for _ in range(2)]
    came = [await client.receive_from("classrooms", request_id="two") for _ in range(2)]
    assert {f["action"] for f in left} == {"delete"} and {f["action"] for f in came} == {"create"}
    assert sorted(f["data"]["pk"] for f in came) == sorted(r.pk for r in rooms[:2])
    await client.assert_no_frames(0.1)


async def test_delete_goes_to_current_groups(clients):
    one = await db(ObsSchool.objects.create)(name="one")
    room = await db(ObsClassroom.objects.create)(name="r", school=one)
    client = await clients()
    await call(
        client, "classrooms", {"action": "subscribe_school", "school": one.pk, "request_id": "one"}
    )
    pk = room.pk
    await db(room.delete)()
    got = await client.receive_from("classrooms", request_id="one")
    assert got == push("delete", {"pk": pk, "name": "r", "school": one.pk}, 200, "one")


# -------------------------------------------------------------- unit level
def test_tracks_moves_only_with_custom_signal_groups():
    assert not PlainConsumer.item_activity.tracks_moves
    from tests.streams.observer.support import ClassroomConsumer, ItemConsumer

    assert ClassroomConsumer.classroom_change.tracks_moves
    assert not ItemConsumer.handle_instance_change.tracks_moves


def test_model_observer_needs_a_model_and_async_handler():
    with pytest.raises(TypeError, match="needs a model class"):
        model_observer("testapp.ObsItem")(PlainConsumer.ping)
    with pytest.raises(TypeError, match="must be `async def`"):

        @model_observer(ObsItem)
        def sync_handler(self, message, **kwargs):
            pass


def test_action_values_and_repr():
    assert [a.value for a in Action] == ["create", "update", "delete"]
    assert isinstance(PlainConsumer.fragile, ModelObserver)
    assert "PlainConsumer.fragile" in repr(PlainConsumer.fragile)
    assert PlainConsumer.fragile.message_type == "fragile"


async def test_group_names_are_valid_for_the_layer():
    for group in PlainConsumer.item_activity.group_names_for_signal(instance=ObsItem(pk=1)):
        get_channel_layer().require_valid_group_name(group)
        assert len(group) < 100


# ------------------------------------------------------- scoped=True (#11)
class ScopedHandlerConsumer(GenericAsyncAPIConsumer):
    """A custom handler behind the consumer's per-user ``get_queryset()``."""

    queryset = ObsItem.objects.all()

    def get_queryset(self, **kwargs: Any) -> Any:
        return ObsItem.objects.filter(owner_id=self.scope["user"].pk)

    @model_observer(ObsItem, scoped=True)
    async def mine(self, message, action=None, subscribing_request_ids=(), **kwargs):
        for request_id in subscribing_request_ids:
            await self.reply(action=action, data=message, request_id=request_id)

    @action()
    async def watch(self, request_id: Any = None, **kwargs: Any) -> Any:
        await self.mine.subscribe(request_id=request_id)
        return None, 201

    @action()
    async def unwatch(self, request_id: Any = None, **kwargs: Any) -> Any:
        await self.mine.unsubscribe(request_id=request_id)
        return None, 204


async def test_a_scoped_handler_hears_only_of_objects_in_its_queryset(clients):
    from django.contrib.auth.models import User

    alice = await db(User.objects.create_user)("alice")
    bob = await db(User.objects.create_user)("bob")
    client = await clients(Gateway.as_asgi(streams={"s": ScopedHandlerConsumer}), user=alice)
    assert (await call(client, "s", {"action": "watch", "request_id": "w"}))[
        "response_status"
    ] == 201

    doc = await db(ObsItem.objects.create)(name="doc", owner=alice)
    got = await client.receive_from("s", request_id="w")
    assert (got["action"], got["data"]) == ("create", {"pk": doc.pk})
    theirs = await db(ObsItem.objects.create)(name="bob's", owner=bob)
    await client.assert_no_frames(0.1)

    # Handed to Bob: one "delete", then nothing of it, not even its deletion.
    doc.owner = bob
    await db(doc.save)()
    assert await client.receive_from("s", request_id="w") == push(
        "delete", {"pk": doc.pk}, 200, "w"
    )
    doc.name = "secret"
    await db(doc.save)()
    await db(doc.delete)()
    await db(theirs.delete)()
    await client.assert_no_frames(0.15)

    # A deletion of an object it was told about is delivered as it is.
    note = await db(ObsItem.objects.create)(name="note", owner=alice)
    assert (await client.receive_from("s", request_id="w"))["action"] == "create"
    note_pk = note.pk
    await db(note.delete)()
    got = await client.receive_from("s", request_id="w")
    assert (got["action"], got["data"]) == ("delete", {"pk": note_pk})

    # Unsubscribing forgets what it was told about: after watching again, the
    # deletion of an object told about before is not delivered.
    kept = await db(ObsItem.objects.create)(name="kept", owner=alice)
    assert (await client.receive_from("s", request_id="w"))["action"] == "create"
    await call(client, "s", {"action": "unwatch", "request_id": "w"})
    await call(client, "s", {"action": "watch", "request_id": "w"})
    await db(kept.delete)()
    await client.assert_no_frames(0.15)


class WrongModelScope(ScopedHandlerConsumer):
    def get_queryset(self, **kwargs: Any) -> Any:
        return ObsUuidItem.objects.all()


async def test_a_scoped_handler_on_a_consumer_of_another_model_is_a_clear_error(clients, caplog):
    from django.contrib.auth.models import User

    alice = await db(User.objects.create_user)("alice")
    client = await clients(Gateway.as_asgi(streams={"s": WrongModelScope}), user=alice)
    with caplog.at_level(logging.ERROR):
        reply = await call(client, "s", {"action": "watch", "request_id": "w"})
    assert reply["response_status"] == 500
    assert "returns testapp.ObsUuidItem objects" in caplog.text
    assert get_channel_layer().groups == {}
