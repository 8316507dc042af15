"""Credential lifetime and throttles across two real server processes on Redis + PostgreSQL.

Two uvicorn processes serve the same project; a third process plays the HTTP
worker where users log out, change passwords and lose tokens. Sockets on
both servers must end (close 4401 with the reason) when their credential
does, and only those; a throttle's budget is shared by both servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets.asyncio.client
from websockets.exceptions import ConnectionClosed

from tests.integration.test_observer_redis import free_port, stop, wait_for_port
from tests.services import require_postgres, require_redis

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]

#: The "HTTP worker": what views do when users log in, out, change passwords.
WORKER = """
import sys
import django
django.setup()
from django.contrib.auth import logout
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client, RequestFactory
from django.utils import timezone
from rest_framework.authtoken.models import Token
command, *args = sys.argv[1:]
if command == "migrate":
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    from django.db import connection
    from tests.testapp.models_permissions import PermNote
    with connection.schema_editor() as editor:  # tests.testapp has no migrations
        editor.create_model(PermNote)
elif command == "login":
    user, _ = User.objects.get_or_create(username=args[0])
    client = Client()
    client.force_login(user)
    print(client.cookies["sessionid"].value)
elif command == "token":
    user = User.objects.get(username=args[0])
    print(Token.objects.get_or_create(user=user)[0].key)
elif command == "logout":
    request = RequestFactory().get("/")
    request.session = SessionStore(args[0])
    request.user = User.objects.get(pk=request.session["_auth_user_id"])
    logout(request)
elif command == "password":
    user = User.objects.get(username=args[0])
    user.set_password("a new password")
    user.save()
elif command == "revoke":
    Token.objects.filter(user__username=args[0]).delete()
elif command == "note":
    from tests.testapp.models_permissions import PermNote
    print(PermNote.objects.create(title=args[1], owner=User.objects.get(username=args[0])).pk)
elif command == "expire":
    expire_date = timezone.now() + timezone.timedelta(seconds=float(args[1]))
    Session.objects.filter(session_key=args[0]).update(expire_date=expire_date)
    print(expire_date.timestamp())
print("ok")
"""


class Site:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.db_name = f"test_auth_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.integration.auth_settings",
            "AUTH_TEST_DB": self.db_name,
            "AUTH_TEST_PREFIX": f"auth-test-{uuid.uuid4().hex[:8]}",
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        }

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", WORKER, *args],
            cwd=REPO_ROOT, env=self.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout.split()[0]

    def admin_sql(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    @contextlib.contextmanager
    def servers(self, count: int) -> Iterator[list[int]]:
        ports, processes = [], []
        try:
            for index in range(count):
                port = free_port()
                log = (self.tmp / f"server{index}.log").open("wb")
                process = subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", "tests.integration.auth_asgi:application",
                     "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off",
                     "--log-level", "warning"],
                    cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip
                ports.append(port)
                processes.append(process)
            for port, process in zip(ports, processes, strict=True):
                wait_for_port(port, process, "uvicorn")
            yield ports
        finally:
            for process in processes:
                stop(process)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    require_redis()
    require_postgres()
    site = Site(tmp_path_factory.mktemp("auth"))
    site.admin_sql(f'CREATE DATABASE "{site.db_name}"')
    try:
        site.run("migrate")
        yield site
    finally:
        site.admin_sql(f'DROP DATABASE IF EXISTS "{site.db_name}" WITH (FORCE)')


def connect(port: int, *, session: str | None = None, token: str | None = None) -> Any:
    headers = {}
    if session is not None:
        headers["Cookie"] = f"sessionid={session}"
    if token is not None:
        headers["Authorization"] = f"Token {token}"
    return websockets.asyncio.client.connect(
        f"ws://127.0.0.1:{port}/ws/", additional_headers=headers
    )


async def call(
    ws: Any, action: str, request_id: Any, stream: str = "me", **kwargs: Any
) -> dict[str, Any]:
    payload = {"action": action, "request_id": request_id, **kwargs}
    await ws.send(json.dumps({"stream": stream, "payload": payload}))
    async with asyncio.timeout(10):
        while True:
            frame = json.loads(await ws.recv())
            if frame["payload"].get("request_id") == request_id:
                return frame["payload"]  # type: ignore[no-any-return]


async def closed(ws: Any, within: float = 10) -> tuple[int, str]:
    """Wait, sending nothing, until the server closes; the close code and reason."""
    with pytest.raises(ConnectionClosed) as info:
        async with asyncio.timeout(within):
            while True:
                await ws.recv()
    assert info.value.rcvd is not None
    return info.value.rcvd.code, info.value.rcvd.reason


async def still_open(ws: Any, username: str) -> None:
    assert (await call(ws, "whoami", uuid.uuid4().hex))["data"] == username


async def test_logout_password_and_token_end_sockets_in_every_process(site: Site) -> None:
    first_session = await asyncio.to_thread(site.run, "login", "alice")
    second_session = await asyncio.to_thread(site.run, "login", "alice")
    token = await asyncio.to_thread(site.run, "token", "alice")
    with site.servers(2) as (a, b):
        async with (
            connect(a, session=first_session) as a1,
            connect(b, session=first_session) as b1,
            connect(b, session=second_session) as b2,
            connect(a, token=token) as t,
        ):
            for ws in (a1, b1, b2, t):
                await still_open(ws, "alice")

            # 1. Logging out of one session ends its sockets on both servers.
            await asyncio.to_thread(site.run, "logout", first_session)
            assert await closed(a1) == (4401, "logged_out")
            assert await closed(b1) == (4401, "logged_out")
            await still_open(b2, "alice")

            # 2. A password change ends the other session's sockets; tokens live on.
            await asyncio.to_thread(site.run, "password", "alice")
            assert await closed(b2) == (4401, "password_changed")
            await still_open(t, "alice")

            # 3. Deleting the token ends the socket that used it.
            await asyncio.to_thread(site.run, "revoke", "alice")
            assert await closed(t) == (4401, "token_revoked")


#: Seconds between setting the session's expiry and reaching it: the timed
#: socket must open well inside it, even on a loaded 2-core machine.
SESSION_EXPIRY = 8.0


async def test_session_expiry_ends_the_socket_without_a_frame(site: Site) -> None:
    session = await asyncio.to_thread(site.run, "login", "bob")
    with site.servers(1) as (port,):
        # A first socket pays the server's warm-up (its first handshake opens the
        # database connection, loads the session backend...), so the timed socket
        # below opens in a fraction of a second, long before its expiry.
        async with connect(port, session=session) as warm:
            await still_open(warm, "bob")
        # The expiry is computed by the worker process once Django is up there,
        # so neither server start nor that process's start eats into it.
        expires_at = float(
            await asyncio.to_thread(site.run, "expire", session, str(SESSION_EXPIRY))
        )
        async with connect(port, session=session) as ws:
            await still_open(ws, "bob")
            opened_ahead = expires_at - time.time()
            assert opened_ahead > 0, f"opened {-opened_ahead:.1f} s after the expiry"
            assert await closed(ws, within=opened_ahead + 20) == (4401, "session_expired")
            late = time.time() - expires_at
            assert -0.1 <= late < 20, late  # at the expiry, without a frame from us


async def test_a_throttle_budget_is_shared_by_both_servers(site: Site) -> None:
    with site.servers(2) as (a, b):
        async with connect(a) as on_a, connect(b) as on_b:
            statuses = [
                (await call(ws, "ping", index))["response_status"]
                for index, ws in enumerate([on_a, on_b, on_a, on_b])
            ]
            assert statuses == [200, 200, 200, 429]
            refused = await call(on_a, "ping", "again")
            assert refused["response_status"] == 429
            assert refused["errors"][0].startswith("Request was throttled. Expected available in")


async def test_action_methods_and_hidden_objects_on_the_production_stack(site: Site) -> None:
    session = await asyncio.to_thread(site.run, "login", "carol")
    await asyncio.to_thread(site.run, "login", "dave")
    mine = await asyncio.to_thread(site.run, "note", "carol", "carol's")
    hidden = await asyncio.to_thread(site.run, "note", "dave", "dave's secret")
    with site.servers(1) as (port,):
        async with connect(port, session=session) as ws:
            # An undeclared custom action is a write: no "add" permission, 403.
            got = await call(ws, "archive", 1, stream="notes", pk=int(mine))
            assert got["response_status"] == 403, got
            # A declared read needs none.
            got = await call(ws, "count", 2, stream="notes")
            assert (got["response_status"], got["data"]) == (200, 1)
            # Someone else's note answers exactly like a pk never used.
            hidden_reply = await call(ws, "retrieve", 3, stream="notes", pk=int(hidden))
            missing_reply = await call(ws, "retrieve", 3, stream="notes", pk=10**9)
            assert hidden_reply == missing_reply
            assert hidden_reply["response_status"] == 404
