"""Run the demo project as a real server for the demo's integration tests.

The server is a separate process (uvicorn on a free port, demo settings, a
private SQLite copy), exactly what ``make demo`` serves, so the browser and
dcrf-client suites test the product rather than a test double. ``server=
"daphne"`` serves it with daphne instead, for checks that compare the two.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import websockets.asyncio.client
import websockets.typing

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_DIR = REPO_ROOT / "demo_project"
STARTUP_TIMEOUT = 30.0
# How each server says where it listens (port 0: the kernel picked a free one).
_LISTENING = {
    "uvicorn": re.compile(r"Uvicorn running on http://[\d.]+:(\d+)"),
    "daphne": re.compile(r"Listening on TCP address [\d.]+:(\d+)"),
}


@dataclass(frozen=True)
class DemoServer:
    url: str
    ws_url: str
    db_path: Path
    log_path: Path
    env: dict[str, str]
    pid: int

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a management command against this server's database (another process)."""
        return manage(self.env, *args)


def demo_env(db_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    # pytest-django exported the test suite's settings module; the demo has its own.
    env["DJANGO_SETTINGS_MODULE"] = "demo_project.settings"
    env["DATABASE_URL"] = f"sqlite:///{db_path}"
    env.pop("REDIS_URL", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=DEMO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def seeded_database(directory: Path) -> Path:
    """A migrated, seeded SQLite file in ``directory``."""
    db_path = directory / "demo.sqlite3"
    env = demo_env(db_path)
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo")
    return db_path


@contextmanager
def run_demo_server(
    directory: Path,
    template_db: Path | None = None,
    shared_db: Path | None = None,
    extra_env: dict[str, str] | None = None,
    port: int = 0,
    server: str = "uvicorn",
) -> Iterator[DemoServer]:
    """Start uvicorn (or daphne) serving the demo on a free port; stop it on exit.

    The database is a fresh seeded SQLite file, a copy of ``template_db``, or
    ``shared_db`` itself (several servers on one database). ``port`` (e.g. the
    port of a server stopped before) serves on that port instead of a free one,
    so open pages reconnect to the new process.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if shared_db is not None:
        db_path = shared_db
    elif template_db is not None:
        db_path = directory / "demo.sqlite3"
        shutil.copyfile(template_db, db_path)
    else:
        db_path = seeded_database(directory)
    env = {**demo_env(db_path), **(extra_env or {})}
    log_path = directory / "server.log"
    with log_path.open("w") as log:
        # Port 0: the kernel picks a free port and the server logs which one.
        process = subprocess.Popen(
            server_command(server, port),
            cwd=DEMO_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        port = _wait_for_port(process, log_path, _LISTENING[server])
        url = f"http://127.0.0.1:{port}"
        yield DemoServer(
            url=url,
            ws_url=f"ws://127.0.0.1:{port}/ws/",
            db_path=db_path,
            log_path=log_path,
            env=env,
            pid=process.pid,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_command(server: str, port: int) -> list[str]:
    """The command ``make demo`` runs (uvicorn), or daphne's equivalent."""
    app = "demo_project.asgi:application"
    if server == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), app]
    if server == "daphne":
        return [sys.executable, "-m", "daphne", "-e", f"tcp:{port}:interface=127.0.0.1", app]
    raise ValueError(f"unknown server {server!r}: use 'uvicorn' or 'daphne'")


def free_port() -> int:
    """A port nothing listens on now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_port(
    process: subprocess.Popen[bytes], log_path: Path, listening: re.Pattern[str]
) -> int:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        match = listening.search(log_path.read_text(errors="replace"))
        if match:
            return int(match.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(
        f"the demo server did not start (exit code {process.poll()}):\n"
        + log_path.read_text(errors="replace")
    )


def login_cookie(server: DemoServer, username: str, password: str) -> str:
    """Log in through the demo's login form; returns a ``Cookie`` header value."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_url = f"{server.url}/accounts/login/"
    page = opener.open(login_url, timeout=10).read().decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match, "the login page has no CSRF token"
    body = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": match.group(1)}
    ).encode()
    request = urllib.request.Request(login_url, data=body, headers={"Referer": login_url})
    opener.open(request, timeout=10).read()
    cookies = {cookie.name: cookie.value for cookie in jar}
    assert "sessionid" in cookies, f"login as {username} failed"
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


class DemoSocket:
    """One websocket to the demo's gateway, with request/reply matching.

    Frames that are not the awaited reply (subscription events, other
    replies) are kept and returned by :meth:`event` later, in order.
    """

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.pending: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    @classmethod
    @asynccontextmanager
    async def open(cls, server: DemoServer, cookie: str | None = None) -> AsyncIterator[DemoSocket]:
        headers = {"Cookie": cookie} if cookie else {}
        async with websockets.asyncio.client.connect(
            server.ws_url, origin=websockets.typing.Origin(server.url), additional_headers=headers
        ) as connection:
            yield cls(connection)

    async def send(self, stream: Any, payload: Any) -> None:
        await self.connection.send(json.dumps({"stream": stream, "payload": payload}))

    async def _next_frame(self, seconds: float) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.connection.recv(), seconds))
        return frame

    async def request(
        self, stream: str, payload: dict[str, Any], wait: float = 5.0
    ) -> dict[str, Any]:
        """Send ``payload`` with a fresh request_id; return the reply's payload."""
        request_id = f"req-{next(self._ids)}"
        await self.send(stream, {**payload, "request_id": request_id})
        return await self.reply(stream, request_id, payload.get("action"), wait)

    async def reply(
        self, stream: str, request_id: Any, action: Any, wait: float = 5.0
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            frame = await self._next_frame(max(remaining, 0.001))
            payload = frame.get("payload") or {}
            if (
                frame.get("stream") == stream
                and payload.get("request_id") == request_id
                and payload.get("action") in (action, None)
            ):
                return dict(payload)
            self.pending.append(frame)

    async def event(self, stream: str, request_id: Any, wait: float = 5.0) -> dict[str, Any]:
        """The next pushed payload on ``stream`` carrying ``request_id``."""
        for index, frame in enumerate(self.pending):
            if frame.get("stream") == stream and frame["payload"].get("request_id") == request_id:
                del self.pending[index]
                return dict(frame["payload"])
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            frame = await self._next_frame(max(remaining, 0.001))
            if frame.get("stream") == stream and frame["payload"].get("request_id") == request_id:
                return dict(frame["payload"])
            self.pending.append(frame)

    async def follow(self, link: dict[str, Any]) -> dict[str, Any]:
        """Send a hypermedia link as it is and return the reply payload."""
        return await self.request(link["stream"], dict(link["payload"]))


def delete_redis_keys(db: int, prefix: str) -> None:
    """Remove what a demo server left in Redis database ``db`` under ``prefix``."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=db)
    try:
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
