"""Token authentication of sockets: DRF tokens and JWTs, header, subprotocol, query."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from rest_framework.authtoken.models import Token
from rest_framework_simplejwt.tokens import AccessToken

from gateway.testing import GatewayCommunicator
from streams.auth import CLOSE_CODE, SUBPROTOCOL
from tests.streams.auth_support import (
    application,
    make_user,
    open_socket,
    session_cookie,
    whoami,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def token_for(username: str = "alice") -> Token:
    user = await sync_to_async(make_user)(username)
    return await Token.objects.acreate(user=user)


async def test_drf_token_in_the_authorization_header(layer):
    token = await token_for()
    comm = await open_socket([(b"authorization", f"Token {token.key}".encode())])
    assert await whoami(comm) == "alice"
    await comm.disconnect()


async def test_drf_token_in_a_subprotocol_is_never_echoed(layer):
    token = await token_for()
    comm = GatewayCommunicator(
        application(), "/ws/", subprotocols=[SUBPROTOCOL, f"token.{token.key}"]
    )
    connected, subprotocol = await comm.connect(timeout=5)
    assert connected
    assert subprotocol == SUBPROTOCOL  # what the browser is accepted with
    assert await whoami(comm) == "alice"
    await comm.disconnect()


async def test_query_parameter_only_when_enabled(layer):
    token = await token_for()
    comm = await open_socket(path=f"/ws/?token={token.key}&x=1")
    assert await whoami(comm) is None  # off by default: the URL is not read
    await comm.disconnect()
    comm = await open_socket(path=f"/ws/?token={token.key}&x=1", allow_query=True)
    assert await whoami(comm) == "alice"
    await comm.disconnect()


async def test_the_token_is_removed_from_what_applications_see(layer):
    seen = {}

    async def app(scope, receive, send):
        seen.update(scope)
        await receive()
        await send({"type": "websocket.accept"})
        await receive()

    from streams.auth import AuthMiddlewareStack

    token = await token_for()
    comm = GatewayCommunicator(
        AuthMiddlewareStack(app, allow_query=True),
        f"/ws/?a=1&token={token.key}&b=2",
        subprotocols=["other"],
    )
    assert (await comm.connect(timeout=5))[0]
    assert seen["query_string"] == b"a=1&b=2"
    assert seen["subprotocols"] == ["other"]
    assert seen["user"].username == "alice"
    await comm.disconnect()


async def test_token_wins_over_the_session(layer):
    token = await token_for("bob")
    alice = await sync_to_async(make_user)("alice")
    _, cookie = await session_cookie(alice)
    comm = await open_socket([*cookie, (b"authorization", f"Token {token.key}".encode())])
    assert await whoami(comm) == "bob"
    await comm.disconnect()


async def test_deleted_token_ends_its_sockets(layer):
    token = await token_for()
    header = [(b"authorization", f"Token {token.key}".encode())]
    comm = await open_socket(header)
    assert await whoami(comm) == "alice"
    await token.adelete()
    assert await comm.receive_close(timeout=5) == CLOSE_CODE
    assert comm.close_reason == "token_revoked"
    refused = GatewayCommunicator(application(), "/ws/", headers=header)
    assert await refused.connect(timeout=5) == (False, CLOSE_CODE)


async def test_token_sockets_survive_a_password_change_as_on_drf(layer):
    token = await token_for()
    comm = await open_socket([(b"authorization", f"Token {token.key}".encode())])
    user = await sync_to_async(lambda: token.user)()
    user.set_password("changed")
    await user.asave()
    await comm.assert_no_frames(0.3)
    assert await whoami(comm) == "alice"
    await comm.disconnect()


async def test_jwt_in_the_header_and_as_subprotocol(layer):
    user = await sync_to_async(make_user)("alice")
    access = str(AccessToken.for_user(user))
    comm = await open_socket([(b"authorization", f"Bearer {access}".encode())])
    assert await whoami(comm) == "alice"
    await comm.disconnect()
    comm = await open_socket(subprotocols=[SUBPROTOCOL, f"bearer.{access}"])
    assert await whoami(comm) == "alice"
    await comm.disconnect()


async def test_expired_jwt_ends_the_socket_at_its_expiry(layer):
    user = await sync_to_async(make_user)("alice")
    access = AccessToken.for_user(user)
    access.set_exp(lifetime=timedelta(seconds=2))
    comm = await open_socket([(b"authorization", f"Bearer {access}".encode())])
    assert await whoami(comm) == "alice"
    started = time.monotonic()
    assert await comm.receive_close(timeout=10) == CLOSE_CODE  # no frame sent meanwhile
    assert comm.close_reason == "token_expired"
    assert time.monotonic() - started < 10
    refused = GatewayCommunicator(
        application(), "/ws/", headers=[(b"authorization", f"Bearer {access}".encode())]
    )
    assert (await refused.connect(timeout=5))[0] is False


async def test_deactivated_token_user_is_ended(layer):
    token = await token_for()
    comm = await open_socket([(b"authorization", f"Token {token.key}".encode())])
    user = await sync_to_async(lambda: token.user)()
    user.is_active = False
    await user.asave()
    assert await comm.receive_close(timeout=5) == CLOSE_CODE
    assert comm.close_reason == "user_inactive"


async def test_deactivated_jwt_user_is_ended(layer):
    user = await sync_to_async(make_user)("alice")
    access = str(AccessToken.for_user(user))
    comm = await open_socket([(b"authorization", f"Bearer {access}".encode())])
    assert await whoami(comm) == "alice"
    user.is_active = False
    await user.asave()
    assert await comm.receive_close(timeout=5) == CLOSE_CODE
    assert comm.close_reason == "user_inactive"
