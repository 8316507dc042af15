"""AsyncAPIConsumer over a real websocket communicator: dispatch, bad frames, permissions.

The modules it composes have their own: test_registry, test_frame_worker,
test_replies, test_channel_layer."""

from __future__ import annotations

import pytest

from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.permissions import BasePermission
from tests.conftest import request
from tests.streams.support import EchoConsumer, reply


async def test_missing_action(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"request_id": 5})
    assert got == reply(None, None, 405, 5, ["Unable to find action in message body."])


@pytest.mark.parametrize("action_value", [1, ["echo"], {"a": 1}])
async def test_non_string_action(communicator, action_value):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"action": action_value, "request_id": 5})
    assert got["response_status"] == 400 and got["request_id"] == 5


@pytest.mark.parametrize("text", ["not json", "{", "", "\x00\x01"])
async def test_text_that_is_not_json(communicator, text):
    comm = await communicator(EchoConsumer.as_asgi())
    await comm.send_to(text_data=text) if text else await comm.send_input(
        {"type": "websocket.receive", "text": ""}
    )
    got = await comm.receive_json_from()
    assert got["response_status"] == 400 and got["action"] is None
    # The socket lives on.
    assert (await request(comm, {"action": "echo"}))["response_status"] == 200


@pytest.mark.parametrize("payload", ["[1, 2]", "3", '"echo"', "null"])
async def test_json_that_is_not_an_object(communicator, payload):
    comm = await communicator(EchoConsumer.as_asgi())
    await comm.send_to(text_data=payload)
    got = await comm.receive_json_from()
    assert got == reply(None, None, 400, None, ["Message must be a JSON object."])


async def test_binary_frame(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    await comm.send_to(bytes_data=b"\x00\xff")
    got = await comm.receive_json_from()
    assert got["response_status"] == 400
    assert (await request(comm, {"action": "echo"}))["response_status"] == 200


@pytest.mark.parametrize("key", ["self", "scope", "consumer"])
async def test_reserved_keys_are_400_not_type_error(communicator, key):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"action": "echo", "request_id": 2, key: 1})
    assert got["response_status"] == 400 and got["request_id"] == 2


async def test_payload_key_named_kwargs_is_harmless(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"action": "echo", "kwargs": 1})
    assert got["data"] == {"kwargs": 1}


async def test_missing_argument_is_400(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"action": "needs_pk", "request_id": 3})
    assert got["response_status"] == 400 and "pk" in got["errors"][0]


class DenyAll(BasePermission):
    def has_permission(self, scope, consumer, action, **kwargs):
        return action == "allowed"


class DenyConnect(BasePermission):
    async def can_connect(self, scope, consumer, message=None):
        return False


class GuardedConsumer(AsyncAPIConsumer):
    permission_classes = (DenyAll,)

    @action()
    async def allowed(self, **kwargs):
        return "ok", 200

    @action()
    async def forbidden(self, **kwargs):
        raise AssertionError("must not run")


async def test_permission_denied_is_403_and_action_not_run(communicator):
    comm = await communicator(GuardedConsumer.as_asgi())
    got = await request(comm, {"action": "forbidden", "request_id": 1})
    assert got == reply(
        None, "forbidden", 403, 1, ["You do not have permission to perform this action."]
    )
    assert (await request(comm, {"action": "allowed"}))["data"] == "ok"


async def test_can_connect_refuses_socket():
    from channels.testing import WebsocketCommunicator

    class Closed(AsyncAPIConsumer):
        permission_classes = (DenyConnect,)

    comm = WebsocketCommunicator(Closed.as_asgi(), "/")
    connected, code = await comm.connect()
    assert not connected and code == 4003
