"""Two real server processes sharing Redis: a group message sent through one
reaches a gateway stream on the other, and only the stream that joined."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets.asyncio.client

from tests.services import require_redis

pytestmark = pytest.mark.redis

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early ({process.returncode}):\n{log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(
        f"server did not listen on {port} within {STARTUP_TIMEOUT}s:\n{log.read_text()}"
    )


@contextlib.contextmanager
def servers(count: int, prefix: str, tmp_path: Path) -> Iterator[list[int]]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.integration.gateway_settings",
        "GATEWAY_TEST_LAYER_PREFIX": prefix,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    started: list[tuple[subprocess.Popen[bytes], Any]] = []
    ports: list[int] = []
    try:
        for index in range(count):
            port = free_port()
            log_path = tmp_path / f"server-{index}.log"
            log = log_path.open("wb")
            process = subprocess.Popen(
                [
                    sys.executable, "-m", "uvicorn", "tests.integration.gateway_asgi:application",
                    "--host", "127.0.0.1", "--port", str(port),
                    "--lifespan", "off", "--log-level", "warning",
                ],
                cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            started.append((process, log))
            ports.append(port)
        for (process, _log), port, index in zip(started, ports, range(count), strict=True):
            wait_for_port(port, process, tmp_path / f"server-{index}.log")
        yield ports
    finally:
        for process, _log in started:
            process.terminate()
        for process, log in started:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            log.close()


async def request(ws: Any, stream: str, payload: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps({"stream": stream, "payload": payload}))
    async with asyncio.timeout(5):
        while True:
            frame = json.loads(await ws.recv())
            if frame["stream"] == stream and frame["payload"].get("request_id") == payload.get(
                "request_id"
            ):
                return frame["payload"]  # type: ignore[no-any-return]


async def flush_prefix(prefix: str) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis(host="127.0.0.1", port=6379)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.mark.slow
async def test_group_message_from_one_process_reaches_a_stream_on_another(tmp_path):
    require_redis()
    prefix = f"gateway-test-{uuid.uuid4().hex[:12]}"
    try:
        with servers(2, prefix, tmp_path) as (port_a, port_b):
            async with (
                websockets.asyncio.client.connect(f"ws://127.0.0.1:{port_a}/ws/") as on_a,
                websockets.asyncio.client.connect(f"ws://127.0.0.1:{port_b}/ws/") as on_b,
            ):
                joined = await request(
                    on_a, "a", {"action": "join", "group": "room", "request_id": 1}
                )
                assert joined["response_status"] == 200
                # "b" runs the same consumer class on the same socket but did not join.
                await request(on_a, "b", {"action": "ping", "request_id": 2})
                shout = {"action": "shout", "group": "room", "data": "hello", "request_id": 3}
                assert (await request(on_b, "a", shout))["response_status"] == 200
                async with asyncio.timeout(5):
                    event = json.loads(await on_a.recv())
                assert event["stream"] == "a"
                assert event["payload"]["action"] == "event"
                assert event["payload"]["data"] == "hello"
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.3):
                        await on_a.recv()  # nothing for stream "b"
    finally:
        await flush_prefix(prefix)
