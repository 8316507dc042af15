"""DCRF 1.3's documented examples, run with only the import prefix changed.

Each consumer below is the code of DCRF's README, docs pages or tutorial (as
published), with ``djangochannelsrestframework`` replaced by ``streams``;
where the published code cannot run as printed (a typo, a model of the
tutorial's own project) the comment says what was changed. The frames
compared are the ones DCRF's docs show or describe.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from rest_framework import serializers
from rest_framework import status as drf_status

from streams.consumers import AsyncAPIConsumer
from streams.decorators import action, detached
from streams.generics import GenericAsyncAPIConsumer
from streams.mixins import CreateModelMixin
from streams.observer import model_observer
from streams.observer.generics import ObserverModelInstanceMixin, ObserverModelListMixin
from tests.conftest import request
from tests.testapp.models_compat import CompatMessage as Message
from tests.testapp.models_compat import CompatRoom as Room

pytestmark = pytest.mark.django_db(transaction=True)


def reply(action: Any, data: Any, status: int, request_id: Any, errors: Any = None) -> dict:
    """DCRF's five-key reply frame."""
    return {
        "errors": errors or [],
        "data": data,
        "action": action,
        "response_status": status,
        "request_id": request_id,
    }


async def no_frame(comm: WebsocketCommunicator) -> None:
    assert await comm.receive_nothing(timeout=0.2)


# ----------------------------------------------------- docs/examples/custom_actions.rst
class MyConsumer(AsyncAPIConsumer):
    # As published, except ``status.HTTP_RESPONSE_OK``, which DRF never had
    # (AttributeError in DCRF too): ``status.HTTP_200_OK``.
    @action()
    async def an_async_action(self, some=None, **kwargs):
        # do something async
        return {"response with": "some message"}, drf_status.HTTP_200_OK

    @action()
    def a_sync_action(self, pk=None, **kwargs):
        # do something sync
        return {"response with": "some message"}, drf_status.HTTP_200_OK


async def test_custom_actions_consumer_not_bound_to_a_model(communicator):
    comm = await communicator(MyConsumer.as_asgi())
    for name in ("an_async_action", "a_sync_action"):
        got = await request(comm, {"action": name, "request_id": 42})
        assert got == reply(name, {"response with": "some message"}, 200, 42)


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email", "password"]
        extra_kwargs = {"password": {"write_only": True}}

    def create(self, validated_data):
        user = User(email=validated_data["email"], username=validated_data["username"])
        user.set_password(validated_data["password"])
        user.save()
        return user


class UserConsumer(GenericAsyncAPIConsumer):
    queryset = User.objects.all()
    serializer_class = UserSerializer

    @action()
    async def send_email(self, pk=None, to=None, **kwargs):
        user = await database_sync_to_async(self.get_object)(pk=pk)
        # ... do some stuff
        # remember to wrap all db actions in `database_sync_to_async`
        assert user.pk == pk
        return {}, 200  # return the contenct and the response code.

    @action()  # if the method is not async it is already wrapped in `database_sync_to_async`
    def publish(self, pk=None, **kwargs):
        user = self.get_object(pk=pk)
        # ...
        assert user.pk == pk
        return {"pk": pk}, 200


async def test_custom_actions_consumer_bound_to_a_model(communicator):
    user = await database_sync_to_async(User.objects.create)(username="u1")
    comm = await communicator(UserConsumer.as_asgi())
    got = await request(comm, {"action": "send_email", "pk": user.pk, "to": "x", "request_id": 1})
    assert got == reply("send_email", {}, 200, 1)
    got = await request(comm, {"action": "publish", "pk": user.pk, "request_id": 2})
    assert got == reply("publish", {"pk": user.pk}, 200, 2)
    got = await request(comm, {"action": "publish", "pk": user.pk + 99, "request_id": 3})
    assert got == reply("publish", None, 404, 3, errors=["Not found"])


# ------------------ README: "if the method is not async it is already wrapped"
class AwaitsSyncActions(UserConsumer):
    @action()
    async def publish_twice(self, pk=None, **kwargs):
        # What the README's comment promises: the sync action is awaitable and
        # runs off the event loop (its ORM call would raise on the loop).
        first = await self.publish(pk=pk)
        second = await self.publish(pk=pk)
        return [first, second], 200


async def test_sync_action_awaited_from_an_async_action(communicator):
    user = await database_sync_to_async(User.objects.create)(username="u2")
    comm = await communicator(AwaitsSyncActions.as_asgi())
    got = await request(comm, {"action": "publish_twice", "pk": user.pk, "request_id": 1})
    assert got == reply("publish_twice", [[{"pk": user.pk}, 200]] * 2, 200, 1)


class NestedSyncCalls(AsyncAPIConsumer):
    @action()
    def inner(self, **kwargs):
        return threading.get_ident(), 200

    @action()
    def outer(self, **kwargs):
        here = threading.get_ident()
        # A sync action calling another runs it in place: no second hop.
        direct, _ = self.inner()
        # Through async code (async_to_sync) it comes back to this thread, as
        # asgiref does: a full pool cannot deadlock on it.
        via_loop, _ = async_to_sync(self.via_async)()
        return [direct == here, via_loop == here], 200

    async def via_async(self):
        return await self.inner()


async def test_nested_sync_calls_stay_in_their_action_thread(communicator):
    comm = await communicator(NestedSyncCalls.as_asgi())
    got = await request(comm, {"action": "outer", "request_id": 1})
    assert got == reply("outer", [True, True], 200, 1)


async def test_nested_calls_do_not_deadlock_a_full_action_pool():
    # More sockets than action threads (ACTION_THREADS, 8), each holding its
    # thread while it calls back through the event loop: had the inner call
    # needed a pool thread of its own, every thread would wait for another.
    comms = [WebsocketCommunicator(NestedSyncCalls.as_asgi(), "/") for _ in range(12)]
    for comm in comms:
        assert (await comm.connect())[0]
    try:
        for comm in comms:
            await comm.send_json_to({"action": "outer", "request_id": 1})
        replies = await asyncio.gather(*(c.receive_json_from(timeout=10) for c in comms))
        assert all(r == reply("outer", [True, True], 200, 1) for r in replies)
    finally:
        for comm in comms:
            await comm.disconnect()


# ------------------------------------------------------------------- @detached
class Detached(AsyncAPIConsumer):
    @action()
    async def start(self, request_id=None, **kwargs):
        self.started = await self.background(request_id)
        return {"returned_before_done": not self.started.done()}, 200

    @detached
    async def background(self, request_id):
        await asyncio.sleep(0.2)
        await self.reply(action="background", data="done", status=200, request_id=request_id)

    @action()
    async def start_forever(self, **kwargs):
        self.forever = await self.sleep_forever()
        return None, 200

    @detached
    async def sleep_forever(self):
        await asyncio.sleep(3600)


async def test_awaiting_a_detached_method_returns_at_once(communicator):
    comm = await communicator(Detached.as_asgi())
    got = await request(comm, {"action": "start", "request_id": 1})
    assert got == reply("start", {"returned_before_done": True}, 200, 1)
    got = await comm.receive_json_from(timeout=2)
    assert got == reply("background", "done", 200, 1)


async def test_detached_tasks_are_cancelled_on_disconnect():
    app = Detached()
    comm = WebsocketCommunicator(app, "/")
    assert (await comm.connect())[0]
    await comm.send_json_to({"action": "start_forever"})
    await comm.receive_json_from(timeout=2)
    await comm.disconnect()
    await asyncio.sleep(0)
    assert app.forever.cancelled()


class FailsInBackground(AsyncAPIConsumer):
    @action()
    async def start(self, **kwargs):
        self.task = await self.explode()
        return None, 200

    @detached
    async def explode(self):
        raise RuntimeError("background failure")


async def test_a_failing_detached_task_is_logged(communicator, caplog):
    import logging

    comm = await communicator(FailsInBackground.as_asgi())
    with caplog.at_level(logging.ERROR, logger="streams.consumers"):
        await request(comm, {"action": "start", "request_id": 1})
        for _ in range(50):
            if any("detached task failed" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.01)
    failed = [r for r in caplog.records if "detached task failed" in r.getMessage()]
    assert failed and "background failure" in str(failed[0].exc_info[1])


# ------------------------------------------------------------ get_action_name
class TypedMessages(AsyncAPIConsumer):
    """The hook's docstring: override it to name actions other than ``action``."""

    async def get_action_name(self, content, **kwargs):
        return content.pop("type", None), content

    @action()
    async def ping(self, **kwargs):
        return "pong", 200


async def test_get_action_name_override(communicator):
    comm = await communicator(TypedMessages.as_asgi())
    got = await request(comm, {"type": "ping", "request_id": 1})
    assert got == reply("ping", "pong", 200, 1)
    got = await request(comm, {"request_id": 2})
    assert got == reply(None, None, 405, 2, errors=["Unable to find action in message body."])


class RaisesActionMissing(AsyncAPIConsumer):
    async def get_action_name(self, content, **kwargs):
        from streams.exceptions import ActionMissingException

        if "type" not in content:
            raise ActionMissingException()
        return content.pop("type"), content


async def test_action_missing_exception_is_a_405_reply(communicator):
    comm = await communicator(RaisesActionMissing.as_asgi())
    got = await request(comm, {"request_id": 3})
    assert got == reply(None, None, 405, 3, errors=["Unable to find action in message body."])


# ------------------------------------------------------ add_group / remove_group
class Grouped(AsyncAPIConsumer):
    @action()
    async def join(self, group, **kwargs):
        await self.add_group(group)
        return sorted(self.groups), 200

    @action()
    async def leave(self, group, **kwargs):
        await self.remove_group(group)
        return sorted(self.groups), 200

    async def news_message(self, event):
        await self.send_json({"news": event["text"]})


async def test_add_group_and_remove_group(communicator):
    comm = await communicator(Grouped.as_asgi())
    layer = get_channel_layer()
    got = await request(comm, {"action": "join", "group": "news", "request_id": 1})
    assert got == reply("join", ["news"], 200, 1)
    got = await request(comm, {"action": "join", "group": "news", "request_id": 2})
    assert got == reply("join", ["news"], 200, 2)
    await layer.group_send("news", {"type": "news.message", "text": "hi"})
    assert await comm.receive_json_from(timeout=2) == {"news": "hi"}
    got = await request(comm, {"action": "leave", "group": "news", "request_id": 3})
    assert got == reply("leave", [], 200, 3)
    await layer.group_send("news", {"type": "news.message", "text": "again"})
    await no_frame(comm)


def test_available_actions_readable_on_the_class():
    assert MyConsumer.available_actions == {
        "an_async_action": "an_async_action",
        "a_sync_action": "a_sync_action",
    }
    with pytest.raises(TypeError):
        MyConsumer.available_actions["x"] = "y"  # type: ignore[index]


# --------------------------------------------- tutorial part 2: chat actions
class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "text", "user", "room"]


class RoomSerializer(serializers.ModelSerializer):
    class Meta:
        model = Room
        fields = ["pk", "name", "host", "current_users"]
        read_only_fields = ["host", "current_users"]


class RoomConsumer(CreateModelMixin, ObserverModelInstanceMixin, GenericAsyncAPIConsumer):
    # Part 1's attributes, then part 2's code as published.
    queryset = Room.objects.all()
    serializer_class = RoomSerializer
    lookup_field = "pk"

    @action()
    async def create(self, data: dict, request_id: str, **kwargs):
        response, status = await super().create(data, **kwargs)
        room_pk = response["pk"]
        await self.join_room(request_id=request_id, pk=room_pk)
        return response, status

    @action()
    async def join_room(self, pk, request_id, **kwargs):
        room = await database_sync_to_async(self.get_object)(pk=pk)
        await self.subscribe_instance(request_id=request_id, pk=room.pk)
        await self.message_activity.subscribe(room=pk, request_id=request_id)
        await self.add_user_to_room(room)

    @action()
    async def leave_room(self, pk, **kwargs):
        room = await database_sync_to_async(self.get_object)(pk=pk)
        await self.unsubscribe_instance(pk=room.pk)
        await self.message_activity.unsubscribe(room=room.pk)
        await self.remove_user_from_room(room)

    @database_sync_to_async
    def add_user_to_room(self, room: Room):
        user: User = self.scope["user"]
        room.current_users.add(user)

    @database_sync_to_async
    def remove_user_from_room(self, room: Room):
        user: User = self.scope["user"]
        room.current_users.remove(user)

    @action()
    async def create_message(self, message, room, **kwargs):
        room: Room = await database_sync_to_async(self.get_object)(pk=room)
        await database_sync_to_async(Message.objects.create)(
            room=room, user=self.scope["user"], text=message
        )

    @model_observer(Message)
    async def message_activity(self, message, observer=None, subscribing_request_ids=[], **kwargs):  # noqa: B006 (verbatim)
        """
        This is evaluated once for each subscribed consumer.
        The result of `@message_activity.serializer` is provided here as the message.
        """
        # Since we provide the request_id when subscribing, we can just loop over them here.
        for request_id in subscribing_request_ids:
            message_body = dict(request_id=request_id)
            message_body.update(message)
            await self.send_json(message_body)

    @message_activity.groups_for_signal
    def message_activity(self, instance: Message, **kwargs):
        yield f"room__{instance.room_id}"

    @message_activity.groups_for_consumer
    def message_activity(self, room=None, **kwargs):
        if room is not None:
            yield f"room__{room}"

    @message_activity.serializer
    def message_activity(self, instance: Message, action, **kwargs):
        """
        This is evaluated before the update is sent
        out to all the subscribing consumers.
        """
        return dict(data=MessageSerializer(instance).data, action=action.value, pk=instance.pk)


@pytest.fixture
async def alice():
    return await database_sync_to_async(User.objects.create)(username="alice")


@pytest.fixture
async def bob():
    return await database_sync_to_async(User.objects.create)(username="bob")


async def test_tutorial_create_joins_the_new_room(communicator, alice):
    comm = await communicator(RoomConsumer.as_asgi(), user=alice)
    # "{action: "create", request_id: 1, data: {"name": "Lobby"}} ... will create a
    # new chat room called "Lobby" and subscribe the current consumer to it"
    got = await request(comm, {"action": "create", "request_id": 1, "data": {"name": "Lobby"}})
    room = await database_sync_to_async(Room.objects.get)(name="Lobby")
    room_data = {"pk": room.pk, "name": "Lobby", "host": None, "current_users": [alice.pk]}
    assert got == reply("create", dict(room_data, current_users=[]), 201, 1)
    # One reply: the subscribe_instance and join_room called from Python send nothing.
    await no_frame(comm)
    assert await database_sync_to_async(lambda: list(room.current_users.all()))() == [alice]

    # Subscribed to the room: a change is pushed with the create's request_id.
    room.name = "Lobby 2"
    await database_sync_to_async(room.save)()
    got = await comm.receive_json_from(timeout=2)
    assert got == reply("update", dict(room_data, name="Lobby 2"), 200, 1)


async def test_tutorial_messages_reach_room_members(communicator, alice, bob):
    room = await database_sync_to_async(Room.objects.create)(name="Den")
    member = await communicator(RoomConsumer.as_asgi(), user=bob)
    # "clients can send {action: "join_room", pk: 42} to join a room"
    await member.send_json_to({"action": "join_room", "pk": room.pk, "request_id": "j"})
    await no_frame(member)  # join_room returns None: no reply
    sender = await communicator(RoomConsumer.as_asgi(), user=alice)
    await sender.send_json_to(
        {"action": "create_message", "message": "Hello Alice!", "room": room.pk, "request_id": 5}
    )
    got = await member.receive_json_from(timeout=2)
    message = await database_sync_to_async(Message.objects.get)(text="Hello Alice!")
    assert got == {
        "request_id": "j",
        "data": {"id": message.pk, "text": "Hello Alice!", "user": alice.pk, "room": room.pk},
        "action": "create",
        "pk": message.pk,
    }
    await no_frame(sender)  # create_message returns None: no reply

    await member.send_json_to({"action": "leave_room", "pk": room.pk, "request_id": "l"})
    await no_frame(member)
    assert await database_sync_to_async(lambda: list(room.current_users.all()))() == []
    await sender.send_json_to(
        {"action": "create_message", "message": "anyone?", "room": room.pk, "request_id": 6}
    )
    await no_frame(member)


# ------------------ subscribe_instance / unsubscribe_instance called from Python
class CallsSubscribeFromPython(ObserverModelInstanceMixin, GenericAsyncAPIConsumer):
    queryset = Room.objects.all()
    serializer_class = RoomSerializer

    @action()
    async def watch(self, pk, request_id, **kwargs):
        data, status = await self.subscribe_instance(pk=pk, request_id=request_id)
        return {"subscribe": [data, status]}, 200

    @action()
    async def fetch(self, pk, **kwargs):
        # DCRF's ObserverModelInstanceMixin did this: await the sync retrieve.
        return await self.retrieve(pk=pk)

    @action()
    async def unwatch(self, pk, request_id, **kwargs):
        data, status = await self.unsubscribe_instance(pk=pk, request_id=request_id)
        return {"unsubscribe": [data, status]}, 200


async def test_subscribe_and_unsubscribe_called_from_python_return_their_tuple(communicator):
    room = await database_sync_to_async(Room.objects.create)(name="Watch")
    comm = await communicator(CallsSubscribeFromPython.as_asgi())
    got = await request(comm, {"action": "fetch", "pk": room.pk, "request_id": 6})
    room_data = {"pk": room.pk, "name": "Watch", "host": None, "current_users": []}
    assert got == reply("fetch", room_data, 200, 6)
    got = await request(comm, {"action": "watch", "pk": room.pk, "request_id": 7})
    assert got == reply("watch", {"subscribe": [None, 201]}, 200, 7)
    await no_frame(comm)
    room.name = "Watched"
    await database_sync_to_async(room.save)()
    pushed = await comm.receive_json_from(timeout=2)
    assert (pushed["action"], pushed["request_id"], pushed["data"]["name"]) == (
        "update",
        7,
        "Watched",
    )
    got = await request(comm, {"action": "unwatch", "pk": room.pk, "request_id": 7})
    assert got == reply("unwatch", {"unsubscribe": [None, 204]}, 200, 7)
    await no_frame(comm)
    # From the wire they reply as before.
    got = await request(comm, {"action": "subscribe_instance", "pk": room.pk, "request_id": 8})
    assert got == reply("subscribe_instance", None, 201, 8)
    got = await request(comm, {"action": "unsubscribe_instance", "pk": room.pk, "request_id": 8})
    assert got == reply("unsubscribe_instance", None, 204, 8)


# ------------------------------------------------ names DCRF users import
def test_modules_and_names_dcrf_users_import():
    from streams.consumers import APIConsumerMetaclass
    from streams.exceptions import ActionMissingException
    from streams.observer.generics import ObserverAPIConsumerMetaclass
    from streams.observer.utils import ObjPartial
    from streams.permissions import (
        AND,
        NOT,
        OR,
        AllowAny,
        BasePermission,
        BasePermissionMetaclass,
        IsAuthenticated,
        OperandHolder,
        OperationHolderMixin,
        SingleOperandHolder,
        WrappedDRFPermission,
    )
    from streams.scope_utils import ensure_async
    from streams.settings import api_settings, reload_api_settings

    assert isinstance(AsyncAPIConsumer, APIConsumerMetaclass)
    assert issubclass(ObserverAPIConsumerMetaclass, APIConsumerMetaclass)

    class WithMeta(AsyncAPIConsumer, metaclass=ObserverAPIConsumerMetaclass):
        @action()
        async def ping(self, **kwargs):
            return "pong", 200

    assert WithMeta.available_actions == {"ping": "ping"}
    assert ActionMissingException.status_code == 405
    assert callable(ObjPartial) and callable(ensure_async)
    assert isinstance(BasePermission, BasePermissionMetaclass)
    assert issubclass(BasePermissionMetaclass, OperationHolderMixin)
    assert isinstance(IsAuthenticated & AllowAny, OperandHolder)
    assert isinstance(~AllowAny, SingleOperandHolder)
    for permission in (AND, OR, NOT, AllowAny, IsAuthenticated, WrappedDRFPermission):
        assert issubclass(permission, BasePermission)
    reload_api_settings(setting="CHANNELS_GATEWAY")
    assert api_settings.PAGE_SIZE is None


class CallsListSubscribeFromPython(ObserverModelListMixin, GenericAsyncAPIConsumer):
    queryset = Room.objects.all()
    serializer_class = RoomSerializer

    @action()
    async def watch_all(self, request_id, **kwargs):
        return {"subscribe": list(await self.subscribe_list(request_id=request_id))}, 200

    @action()
    async def unwatch_all(self, request_id, **kwargs):
        return {"unsubscribe": list(await self.unsubscribe_list(request_id=request_id))}, 200


async def test_list_subscriptions_called_from_python_return_their_tuple(communicator):
    comm = await communicator(CallsListSubscribeFromPython.as_asgi())
    got = await request(comm, {"action": "watch_all", "request_id": "w"})
    assert got == reply("watch_all", {"subscribe": [None, 201]}, 200, "w")
    await no_frame(comm)
    room = await database_sync_to_async(Room.objects.create)(name="New")
    pushed = await comm.receive_json_from(timeout=2)
    assert (pushed["action"], pushed["request_id"], pushed["data"]["pk"]) == (
        "create",
        "w",
        room.pk,
    )
    got = await request(comm, {"action": "unwatch_all", "request_id": "w"})
    assert got == reply("unwatch_all", {"unsubscribe": [None, 204]}, 200, "w")
    await database_sync_to_async(Room.objects.create)(name="Unseen")
    await no_frame(comm)
