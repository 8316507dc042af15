"""Scoped delivery on the production stack: two uvicorn servers, a writer process,
channels_redis and PostgreSQL.

Alice (on server A) and Bob (on server B) see the items whose name starts with
their own prefix (the consumer's ``get_queryset()``). A third process, which
only calls ``django.setup()``, hands Alice's item to Bob by renaming it: Alice
is told it is gone, in her instance and list subscriptions and her scoped
custom handler, and hears
nothing of Bob's next change; Bob's list receives it. Then one socket with many
list subscriptions of distinct filters: one write reaches them all quickly,
while another socket's requests are answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import websockets.asyncio.client
import websockets.exceptions

from tests.integration.test_observer_redis import REPO_ROOT, Site
from tests.integration.test_observer_redis import site as _site_fixture

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

site = _site_fixture

#: The writing process: creates the table and items, renames them.
WRITER = """
import sys
import django
django.setup()
from tests.testapp.models_observer import ObsUuidItem
command, *args = sys.argv[1:]
if command == "setup":
    from django.db import connection
    with connection.schema_editor() as editor:
        editor.create_model(ObsUuidItem)
    print("ok")
elif command == "create":
    print(ObsUuidItem.objects.create(name=args[0]).pk)
else:
    item = ObsUuidItem.objects.get(pk=args[0])
    item.name = args[1]
    item.save()
    print("saved")
"""


def write(site: Site, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", WRITER, *args],
        cwd=REPO_ROOT, env=site.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def servers(site: Site) -> Iterator[tuple[int, int]]:
    assert write(site, "setup") == "ok"
    with site.server("server-a") as a, site.server("server-b") as b:
        yield a, b


class Client:
    """One socket: requests by request_id; frames kept until a test asks for them
    (pushes of different subscriptions may come in any order)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.kept: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            async for text in self.ws:
                self.kept.append(json.loads(text)["payload"])
                self.arrived.set()

    async def request(self, payload: dict[str, Any], stream: str = "scoped") -> dict[str, Any]:
        await self.ws.send(json.dumps({"stream": stream, "payload": payload}))
        return await self.next(payload["request_id"])

    async def next(self, request_id: Any) -> dict[str, Any]:
        """The first frame kept for ``request_id`` (waiting up to 10 s)."""
        async with asyncio.timeout(10):
            while True:
                for index, payload in enumerate(self.kept):
                    if payload.get("request_id") == request_id:
                        return self.kept.pop(index)
                self.arrived.clear()
                await self.arrived.wait()

    async def nothing(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        assert not self.kept, self.kept


def connect(port: int, who: str) -> Any:
    return websockets.asyncio.client.connect(f"ws://127.0.0.1:{port}/ws/?who={who}", max_size=None)


async def test_an_item_handed_to_bob_leaves_alices_view_across_processes(
    site: Site, servers: tuple[int, int]
) -> None:
    port_a, port_b = servers
    pk = await asyncio.to_thread(write, site, "create", "alice:doc")
    async with connect(port_a, "alice") as ws_a, connect(port_b, "bob") as ws_b:
        alice, bob = Client(ws_a), Client(ws_b)
        reply = await alice.request({"action": "subscribe_instance", "pk": pk, "request_id": "i"})
        assert reply["response_status"] == 201, reply
        reply = await alice.request({"action": "subscribe_list", "request_id": "l"})
        assert reply["response_status"] == 201, reply
        reply = await alice.request({"action": "watch", "request_id": "h"})
        assert reply["response_status"] == 201, reply
        reply = await bob.request({"action": "subscribe_list", "request_id": "l"})
        assert reply["response_status"] == 201, reply
        # Bob cannot subscribe to Alice's item: outside his queryset, 404.
        reply = await bob.request({"action": "subscribe_instance", "pk": pk, "request_id": "x"})
        assert reply["response_status"] == 404, reply

        await asyncio.to_thread(write, site, "rename", pk, "alice:draft")
        assert (await alice.next("i"))["data"] == {"id": pk, "name": "alice:draft"}
        assert (await alice.next("l"))["action"] == "update"
        assert await alice.next("h") == {
            "errors": [], "data": {"pk": pk}, "action": "update",
            "response_status": 200, "request_id": "h",
        }  # fmt: skip

        # Handed to Bob: "gone" for Alice's instance and list, "create" for Bob's list.
        await asyncio.to_thread(write, site, "rename", pk, "bob:doc")
        gone = {"errors": [], "data": {"pk": pk}, "action": "delete", "response_status": 204}
        assert await alice.next("i") == {**gone, "request_id": "i"}
        assert await alice.next("l") == {**gone, "request_id": "l"}
        # The scoped custom handler: told once, as a delete (status as it replies).
        assert await alice.next("h") == {**gone, "response_status": 200, "request_id": "h"}
        got = await bob.next("l")
        assert (got["action"], got["data"]) == ("create", {"id": pk, "name": "bob:doc"})
        reply = await alice.request({"action": "retrieve", "pk": pk, "request_id": "r"})
        assert reply["response_status"] == 404

        # Bob's next change reaches Bob only.
        await asyncio.to_thread(write, site, "rename", pk, "bob:secret")
        got = await bob.next("l")
        assert (got["action"], got["data"]["name"]) == ("update", "bob:secret")
        await alice.nothing(1.0)
        for client in (alice, bob):
            client.reader.cancel()


async def test_many_list_subscriptions_one_write_others_served(
    site: Site, servers: tuple[int, int]
) -> None:
    """Checklist 37 on PostgreSQL + Redis: 500 list subscriptions with distinct
    filters on one socket; a write reaches the matching ones within seconds and
    a bystander's requests are answered meanwhile."""
    port_a, _ = servers
    async with connect(port_a, "carol") as ws, connect(port_a, "carol") as ws_other:
        carol, bystander = Client(ws), Client(ws_other)
        for start in range(0, 500, 50):
            for i in range(start, start + 50):
                payload = {"action": "subscribe_list", "name": f"carol:{i}", "request_id": i}
                await ws.send(json.dumps({"stream": "scoped", "payload": payload}))
            for i in range(start, start + 50):
                assert (await carol.next(i))["response_status"] == 201
        pk = await asyncio.to_thread(write, site, "create", "carol:250")
        started = time.monotonic()
        got = await carol.next(250)
        reply = await bystander.request({"action": "retrieve", "pk": pk, "request_id": "r"})
        assert reply["response_status"] == 200
        assert got["action"] == "create"
        assert time.monotonic() - started < 5
        await asyncio.to_thread(write, site, "rename", pk, "carol:251")
        assert (await carol.next(250))["action"] == "delete"
        assert (await carol.next(251))["action"] == "create"
        await carol.nothing(0.5)
        for client in (carol, bystander):
            client.reader.cancel()
