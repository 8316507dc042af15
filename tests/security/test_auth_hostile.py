"""Hostile handshakes against token authentication and credential lifetime."""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from rest_framework.authtoken.models import Token
from rest_framework_simplejwt.tokens import AccessToken

from gateway.testing import GatewayCommunicator
from streams.auth import CLOSE_CODE, SUBPROTOCOL
from streams.auth.tokens import MAX_CREDENTIAL_LENGTH
from tests.streams.auth_support import application, make_user, open_socket, whoami

pytestmark = pytest.mark.django_db(transaction=True)


async def refused(
    headers=None, subprotocols=None, path: str = "/ws/", **options
) -> GatewayCommunicator:
    comm = GatewayCommunicator(
        application(**options), path, headers=headers, subprotocols=subprotocols
    )
    connected, code = await comm.connect(timeout=5)
    assert (connected, code) == (False, CLOSE_CODE), "the handshake must be refused"
    return comm


@pytest.fixture
async def token(transactional_db) -> Token:
    user = await sync_to_async(make_user)("alice")
    return await Token.objects.acreate(user=user)


@pytest.mark.parametrize(
    "value",
    [
        b"Token ",
        b"Token nonexistent0000000000000000000000000",
        b"Token " + b"a" * 41,  # longer than any DRF key
        b"Token ../../etc/passwd",
        b"Token ' OR 1=1 --",
        b"Token \xff\xfe",
        b"Bearer not.a.jwt",
        b"Bearer " + b"A" * (MAX_CREDENTIAL_LENGTH + 1),
        b"Token " + b"x" * 1_000_000,  # a huge header
    ],
)
async def test_bad_authorization_headers_are_refused(value):
    await refused([(b"authorization", value)])


@pytest.mark.parametrize(
    "value", [b"Basic YWxpY2U6cHc=", b"Digest username=x", b"Negotiate " + b"A" * 100_000, b"\xff"]
)
async def test_other_schemes_are_left_alone(transactional_db, value):
    # A password-protected staging site: browsers repeat Basic on the handshake.
    comm = await open_socket([(b"authorization", value)])
    assert await whoami(comm) is None
    await comm.disconnect()


async def test_two_credentials_are_refused_even_if_both_are_valid(token):
    header = (b"authorization", f"Token {token.key}".encode())
    await refused([header, header])
    await refused([header], subprotocols=[SUBPROTOCOL, f"token.{token.key}"])
    await refused([header], path=f"/ws/?token={token.key}", allow_query=True)
    await refused(path=f"/ws/?token={token.key}&token={token.key}", allow_query=True)


@pytest.mark.parametrize(
    "subprotocols",
    [
        ["token.nonexistent"],  # without the marker subprotocol
        [SUBPROTOCOL, "token."],
        [SUBPROTOCOL, "token." + "a" * (MAX_CREDENTIAL_LENGTH + 1)],
        [SUBPROTOCOL, "bearer.forged.jwt.here"],
        [SUBPROTOCOL, "token.nonexistent", "token.other"],
    ],
)
async def test_forged_subprotocols_are_refused(subprotocols):
    await refused(subprotocols=subprotocols)


async def test_a_valid_token_without_the_marker_subprotocol_is_refused(token):
    await refused(subprotocols=[f"token.{token.key}"])


async def test_forged_jwts_are_refused(transactional_db):
    user = await sync_to_async(make_user)("alice")
    access = str(AccessToken.for_user(user))
    header, payload, signature = access.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["user_id"] = "999"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    await refused([(b"authorization", f"Bearer {header}.{forged}.{signature}".encode())])
    # alg=none
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    await refused([(b"authorization", f"Bearer {none_header}.{payload}.".encode())])
    expired = AccessToken.for_user(user)
    expired.set_exp(lifetime=-timedelta(seconds=5))
    await refused([(b"authorization", f"Bearer {expired}".encode())])


async def test_inactive_users_token_is_refused(token):
    user = await sync_to_async(lambda: token.user)()
    user.is_active = False
    await user.asave()
    await refused([(b"authorization", f"Token {token.key}".encode())])


async def test_refusals_never_log_the_secret(token, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "f" * 40
    await refused([(b"authorization", f"Token {secret}".encode())])
    await refused(subprotocols=[SUBPROTOCOL, f"token.{secret}", "token.x"])
    assert secret not in caplog.text
    assert token.key not in caplog.text


async def test_an_anonymous_socket_cannot_join_a_users_group_by_guessing(layer, token):
    # Credential announcements go to hashed per-user groups that only the
    # middleware joins; a client has no way to name a group.
    comm = await open_socket()
    assert await whoami(comm) is None
    assert not any(name.startswith("streams.auth.") for name in layer.groups)
    await comm.disconnect()


async def test_a_flooding_client_is_held_back_by_the_watch(transactional_db):
    # The relay between server and application is bounded: a client sending
    # faster than its application reads cannot grow the middleware's queue;
    # the backlog stays with the server, whose own limits apply.
    import asyncio

    from django.contrib.auth.models import AnonymousUser

    from streams.auth.credentials import Credential
    from streams.auth.lifetime import INBOX_SIZE, CredentialLifetimeMiddleware

    from_server: asyncio.Queue = asyncio.Queue()
    for _ in range(100):
        from_server.put_nowait({"type": "websocket.receive", "text": "{}"})

    async def never_reads(scope, receive, send):
        await asyncio.sleep(3600)

    async def send(message):
        pass

    scope = {
        "type": "websocket",
        "user": AnonymousUser(),
        "credential": Credential(kind="token", user_pk=1, digest="d"),
    }
    task = asyncio.ensure_future(
        CredentialLifetimeMiddleware(never_reads)(scope, from_server.get, send)
    )
    await asyncio.sleep(0.2)
    # INBOX_SIZE queued, one more held by the relay waiting for room.
    assert from_server.qsize() == 100 - INBOX_SIZE - 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
