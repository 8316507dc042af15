"""Session sockets end with their session: logout, deletion, expiry, password, deactivation.

In one process with the in-memory layer; tests/integration/test_auth_redis.py
proves the same across two server processes on Redis and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.auth import logout as channels_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import RequestFactory
from django.utils import timezone

from gateway.testing import GatewayClosed
from streams.auth import CLOSE_CODE
from tests.stacks import in_memory_layer_only
from tests.streams.auth_support import make_user, open_socket, session_cookie, whoami

pytestmark = pytest.mark.django_db(transaction=True)


async def closed_with(comm, reason: str, within: float = 5) -> None:
    assert await comm.receive_close(timeout=within) == CLOSE_CODE
    assert comm.close_reason == reason


async def test_anonymous_sockets_pass_through_untouched(layer):
    comm = await open_socket()
    assert await whoami(comm) is None
    assert not any(name.startswith("streams.auth.") for name in layer.groups)
    await comm.disconnect()


async def test_logout_ends_every_socket_of_that_session_only(layer):
    alice = await sync_to_async(make_user)("alice")
    client, cookie = await session_cookie(alice)
    _, other_cookie = await session_cookie(alice)  # another browser
    first, second = await open_socket(cookie), await open_socket(cookie)
    elsewhere = await open_socket(other_cookie)
    assert await whoami(first) == "alice"
    await sync_to_async(client.logout)()  # Django's logout(): user_logged_out, then flush
    await closed_with(first, "logged_out")
    await closed_with(second, "logged_out")
    assert await whoami(elsewhere) == "alice"  # another session: still open
    await elsewhere.disconnect()


async def test_a_closed_socket_sends_nothing_more_and_leaves_its_groups(layer):
    alice = await sync_to_async(make_user)("alice")
    client, cookie = await session_cookie(alice)
    comm = await open_socket(cookie)
    assert await whoami(comm) == "alice"
    await sync_to_async(client.logout)()
    await closed_with(comm, "logged_out")
    with pytest.raises(GatewayClosed):
        await whoami(comm, "after")
    await comm.disconnect()
    for _ in range(50):
        if not any(layer.groups.values()):
            break
        await asyncio.sleep(0.02)
    assert not any(layer.groups.values()), layer.groups


async def test_deleted_session_ends_its_sockets(layer):
    alice = await sync_to_async(make_user)("alice")
    client, cookie = await session_cookie(alice)
    comm = await open_socket(cookie)
    assert await whoami(comm) == "alice"
    key = client.cookies["sessionid"].value
    await Session.objects.filter(session_key=key).adelete()  # e.g. an admin action
    await closed_with(comm, "session_ended")


async def test_channels_logout_in_a_consumer_ends_the_sessions_sockets(layer):
    alice = await sync_to_async(make_user)("alice")
    client, cookie = await session_cookie(alice)
    comm = await open_socket(cookie)
    key = client.cookies["sessionid"].value
    session = await sync_to_async(SessionStore)(key)
    await sync_to_async(session.load)()
    await channels_logout({"session": session, "user": alice})
    await closed_with(comm, "session_ended")


async def test_password_change_ends_every_session_socket_of_the_user(layer):
    alice = await sync_to_async(make_user)("alice")
    client, cookie = await session_cookie(alice)
    _, other_cookie = await session_cookie(alice)
    kept, ended = await open_socket(cookie), await open_socket(other_cookie)

    def change_password() -> str:
        # What PasswordChangeView does: save, then keep the current session
        # (under a new key, which SessionMiddleware then saves and sets).
        request = RequestFactory().get("/")
        request.session = SessionStore(client.cookies["sessionid"].value)
        request.user = alice
        alice.set_password("new password")
        alice.save()
        update_session_auth_hash(request, alice)
        request.session.save()
        return str(request.session.session_key)

    new_key = await sync_to_async(change_password)()
    await closed_with(ended, "password_changed")
    # update_session_auth_hash() gives the browser that changed the password a
    # new session key and deletes the old one, which its socket was opened
    # with: that socket ends too, and reconnects with the new cookie.
    assert await kept.receive_close(timeout=5) == CLOSE_CODE
    assert kept.close_reason in ("session_ended", "password_changed")
    reconnected = await open_socket([(b"cookie", f"sessionid={new_key}".encode())])
    assert await whoami(reconnected) == "alice"
    await reconnected.disconnect()


async def test_saving_a_user_without_a_new_password_ends_nothing(layer):
    alice = await sync_to_async(make_user)("alice")
    _, cookie = await session_cookie(alice)
    comm = await open_socket(cookie)
    alice.first_name = "Alice"
    await alice.asave()
    await asyncio.sleep(0.2)
    assert await whoami(comm) == "alice"
    await comm.disconnect()


async def test_deactivated_user_is_ended(layer):
    alice = await sync_to_async(make_user)("alice")
    _, cookie = await session_cookie(alice)
    comm = await open_socket(cookie)
    alice.is_active = False
    await alice.asave()
    await closed_with(comm, "user_inactive")


async def test_session_expiry_ends_the_socket_without_any_frame(layer):
    alice = await sync_to_async(make_user)("alice")
    client, cookie = await session_cookie(alice)
    key = client.cookies["sessionid"].value
    started = time.monotonic()  # the expiry is at least 2 s after this
    await Session.objects.filter(session_key=key).aupdate(
        expire_date=timezone.now() + timedelta(seconds=2)
    )
    comm = await open_socket(cookie)
    assert await whoami(comm) == "alice"
    await closed_with(comm, "session_expired", within=15)
    elapsed = time.monotonic() - started
    assert 1.9 <= elapsed < 15, elapsed


async def test_an_extended_session_is_not_ended_at_its_old_expiry(layer):
    alice = await sync_to_async(make_user)("alice")
    client, cookie = await session_cookie(alice)
    key = client.cookies["sessionid"].value
    await Session.objects.filter(session_key=key).aupdate(
        expire_date=timezone.now() + timedelta(seconds=2)
    )
    comm = await open_socket(cookie)
    # The user keeps browsing: the session is saved with a later expiry.
    await Session.objects.filter(session_key=key).aupdate(
        expire_date=timezone.now() + timedelta(hours=1)
    )
    await asyncio.sleep(2.5)
    assert await whoami(comm) == "alice"
    await comm.disconnect()


@in_memory_layer_only  # empties the in-memory layer's group by hand
async def test_the_user_group_is_joined_again_before_the_layer_expires_it(layer, monkeypatch):
    # Channel layers forget group members after a day; sockets live longer.
    from streams.auth import lifetime

    monkeypatch.setattr(lifetime, "GROUP_REFRESH", 0.2)
    alice = await sync_to_async(make_user)("alice")
    client, cookie = await session_cookie(alice)
    comm = await open_socket(cookie)
    assert await whoami(comm) == "alice"
    (group,) = [name for name in layer.groups if name.startswith("streams.auth.")]
    layer.groups[group].clear()  # what the layer's expiry would do
    await asyncio.sleep(0.5)
    assert layer.groups[group], "the socket did not join its group again"
    await sync_to_async(client.logout)()
    await closed_with(comm, "logged_out")


async def test_a_plain_consumer_is_ended_and_leaves_its_groups(layer):
    # No gateway: the middleware wraps any websocket application.
    from channels.testing import WebsocketCommunicator

    from streams.auth import AuthMiddlewareStack
    from tests.streams.auth_support import WhoAmI

    class Joined(WhoAmI):
        async def websocket_connect(self, message):
            await super().websocket_connect(message)
            await self.channel_layer.group_add("room", self.channel_name)
            self.groups = ["room"]

    alice = await sync_to_async(make_user)("alice")
    client, cookie = await session_cookie(alice)
    comm = WebsocketCommunicator(AuthMiddlewareStack(Joined.as_asgi()), "/", headers=cookie)
    assert (await comm.connect())[0]
    await comm.send_json_to({"action": "whoami", "request_id": 1})
    assert (await comm.receive_json_from())["data"] == "alice"
    assert layer.groups.get("room")
    await sync_to_async(client.logout)()
    closing = await comm.receive_output(timeout=5)
    assert closing == {"type": "websocket.close", "code": CLOSE_CODE, "reason": "logged_out"}
    for _ in range(100):
        if not layer.groups.get("room") and not any(
            name.startswith("streams.auth.") and members for name, members in layer.groups.items()
        ):
            break
        await asyncio.sleep(0.02)
    assert not layer.groups.get("room"), "the consumer did not run its disconnect handling"
    await comm.wait()
