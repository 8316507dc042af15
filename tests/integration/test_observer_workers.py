"""Several worker processes on one Redis (reliability checklist item 40).

``uvicorn --workers 2`` serves ``tests.integration.observer_asgi`` on
PostgreSQL and channels_redis (a private redis-server, the layer's default
connection pool: 100 connections per process). 400 sockets, about 200 per
worker, subscribe to one object; a write in another process reaches every one
of them; then every socket drops at once, so each worker leaves about twice a
pool's worth of group memberships at the same moment. Redis must then hold no
membership, and the servers' log no "Too many connections" (a pool exhausted
by the wave) nor a group that could not be left. Bounded: set-up, fan-out and
clean-up each have a deadline; the whole test takes about 15 s on a quiet
2-core machine and stays under a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import websockets.asyncio.client

from tests.integration.test_observer_redis import (
    REPO_ROOT,
    Site,
    free_port,
    next_payload,
    private_site,
    stop,
    wait_for_port,
)

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

WORKERS = 2
SOCKETS = 400
#: Sockets opening (and subscribing) at once, from this process.
OPENING = 100


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with private_site(tmp_path_factory.mktemp("workers")) as site:
        yield site


@contextlib.contextmanager
def workers(site: Site, log_path: Path) -> Iterator[int]:
    """``uvicorn --workers N`` on a free port; yields the port."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.integration.observer_asgi:application",
             "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off",
             "--log-level", "warning", "--workers", str(WORKERS)],
            cwd=REPO_ROOT, env=site.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for_port(port, process, "uvicorn")
            yield port
        finally:
            stop(process)


def group_members(site: Site) -> dict[str, list[str]]:
    """Every channel-layer group of this run's prefix -> its member channels."""
    prefix = site.env["OBSERVER_TEST_PREFIX"]
    client = redis.Redis(host="127.0.0.1", port=site.redis_port)
    try:
        return {
            key.decode(): [member.decode() for member in client.zrange(key, 0, -1)]
            for key in client.scan_iter(match=f"{prefix}:group:*")
        }
    finally:
        client.close()


async def open_subscribed(
    url: str, pk: str, index: int, limit: asyncio.Semaphore, opened: list[Any]
) -> Any:
    async with limit:
        ws = await websockets.asyncio.client.connect(url, open_timeout=30, max_queue=None)
        opened.append(ws)
        request_id = f"s{index}"
        payload = {"action": "subscribe_instance", "pk": pk, "request_id": request_id}
        await ws.send(json.dumps({"stream": "items", "payload": payload}))
        reply = await next_payload(ws, request_id)
        assert reply["response_status"] == 201, reply
        return ws


async def wait_for_update(ws: Any, index: int, name: str) -> None:
    while True:
        got = await next_payload(ws, f"s{index}")
        if got["action"] == "update" and got["data"]["name"] == name:
            return


async def test_fan_out_over_workers_then_a_mass_disconnect_leaves_no_group(
    site: Site, tmp_path: Path
) -> None:
    pk = await asyncio.to_thread(site.write, "setup")
    log_path = tmp_path / "workers.log"
    with workers(site, log_path) as port:
        url = f"ws://127.0.0.1:{port}/ws/"
        limit = asyncio.Semaphore(OPENING)
        opened: list[Any] = []
        try:
            async with asyncio.timeout(30):
                sockets = await asyncio.gather(
                    *(open_subscribed(url, pk, index, limit, opened) for index in range(SOCKETS))
                )
            # One group (the object's), every socket a member, from several
            # processes: channels_redis names a process's channels after its
            # own random client prefix ("specific.<prefix>!<channel>").
            groups = group_members(site)
            assert len(groups) == 1, groups.keys()
            [members] = groups.values()
            assert len(members) == SOCKETS
            processes = {member.split("!", 1)[0] for member in members}
            assert len(processes) >= 2, f"all sockets landed on one worker: {processes}"

            # A write in another process reaches every subscriber.
            assert await asyncio.to_thread(site.write, "rename", pk, "fanned") == "saved"
            async with asyncio.timeout(10):
                await asyncio.gather(
                    *(wait_for_update(ws, index, "fanned") for index, ws in enumerate(sockets))
                )
        finally:
            # Every socket drops at once, as when a load balancer or a network
            # goes away: no close handshake, the servers see the TCP close.
            for ws in opened:
                ws.transport.abort()

        try:
            async with asyncio.timeout(15):
                while group_members(site):  # noqa: ASYNC110 (polling another process's state)
                    await asyncio.sleep(0.2)
        except TimeoutError:
            left = sum(len(members) for members in group_members(site).values())
            log = log_path.read_text(errors="replace")
            pytest.fail(f"{left} memberships left 15 s after the drop; log:\n{log[-4000:]}")
    log = log_path.read_text(errors="replace")
    assert "Too many connections" not in log, log[-4000:]
    assert "could not leave" not in log, log[-4000:]
    assert "Traceback" not in log, log[-4000:]
