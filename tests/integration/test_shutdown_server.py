"""Graceful shutdown on a real server: uvicorn (lifespan on) serving
``GracefulShutdown(...)``, PostgreSQL and a private Redis.

SIGTERM while an action is in flight: the client gets its reply, then close
1012; readiness answers 503 meanwhile; a socket opened during the drain is
closed 1012 at once; the streams leave their groups (the Redis group key is
gone) and the process exits on its own."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from typing import Any

import pytest
import redis
import websockets.asyncio.client
import websockets.exceptions

from tests.integration.ops_server import OpsServer, ops_server
from tests.integration.private_redis import private_redis
from tests.services import require_postgres, require_redis

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


async def reply_to(ws: Any, request_id: int) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            frame = json.loads(await ws.recv())
            if frame["payload"].get("request_id") == request_id:
                return frame["payload"]  # type: ignore[no-any-return]


async def close_code(ws: Any) -> int | None:
    async with asyncio.timeout(10):
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            while True:
                await ws.recv()
    return closed.value.rcvd.code if closed.value.rcvd else None


def send(ws: Any, request_id: int, **payload: Any) -> Any:
    return ws.send(json.dumps({"stream": "slow", "payload": {**payload, "request_id": request_id}}))


def group_members(server: OpsServer, port: int, group: str) -> int:
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        return int(client.zcard(f"{server.prefix}:group:{group}"))
    finally:
        client.close()


def wait_exit(process: subprocess.Popen[bytes], timeout: float) -> int:
    return process.wait(timeout=timeout)


async def test_sigterm_lets_the_action_reply_then_closes_1012(tmp_path):
    require_redis()
    require_postgres()
    with private_redis() as store, ops_server(tmp_path, store) as server:
        async with websockets.asyncio.client.connect(server.ws_url) as ws:
            await send(ws, 1, action="join", group="room")
            assert (await reply_to(ws, 1))["response_status"] == 200
            assert group_members(server, store.port, "room") == 1

            await send(ws, 2, action="wait", seconds=2.0)
            await asyncio.sleep(0.3)  # the action is running
            server.process.send_signal(signal.SIGTERM)

            # Out of rotation while draining, though the listener still answers.
            deadline = time.monotonic() + 5
            status, body = await asyncio.to_thread(server.ready)
            while status != 503 and time.monotonic() < deadline:
                status, body = await asyncio.to_thread(server.ready)
            assert (status, body.get("draining")) == (503, True)

            # A socket arriving now is told to go elsewhere at once.
            async with websockets.asyncio.client.connect(server.ws_url) as late:
                assert await close_code(late) == 1012

            # Requests sent now are refused; the one in flight is answered.
            await send(ws, 3, action="wait", seconds=0)
            refused = await reply_to(ws, 3)
            assert refused["response_status"] == 503
            reply = await reply_to(ws, 2)
            assert (reply["response_status"], reply["data"]) == (200, {"slept": 2.0})
            assert await close_code(ws) == 1012

        assert await asyncio.to_thread(wait_exit, server.process, 20) is not None
        assert group_members(server, store.port, "room") == 0, server.log()


async def test_sigterm_past_the_grace_closes_1012_without_the_reply(tmp_path):
    require_redis()
    require_postgres()
    with private_redis() as store, ops_server(tmp_path, store, grace=0.5) as server:
        async with websockets.asyncio.client.connect(server.ws_url) as ws:
            await send(ws, 1, action="join", group="room")
            assert (await reply_to(ws, 1))["response_status"] == 200
            await send(ws, 2, action="wait", seconds=60)
            await asyncio.sleep(0.3)
            begun = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            assert await close_code(ws) == 1012
            assert time.monotonic() - begun < 10
        await asyncio.to_thread(wait_exit, server.process, 20)
        assert group_members(server, store.port, "room") == 0, server.log()
        assert "unanswered after the shutdown grace" in server.log()
