"""Build a fresh Django project from the code blocks of docs/*.md, and serve it.

The pages are the single source: a test never restates a snippet, it reads
it from the page, so the docs and what the tests prove cannot drift apart.
Conventions the pages follow (and these helpers read):

- a code block whose first line is ``# path/to/file`` is that file, whole;
  ``# path (add at the end)`` is appended to it; ``# path (production: add
  at the end)`` only in the production build;
- in a ``console`` block, ``$ command`` lines are commands and the lines
  after one are its output. ``python manage.py`` commands are run while
  building (their output compared when the page shows it), except ``shell``,
  which the page's own test runs at its place among the frames;
- in a ``text`` block, ``> frame`` is sent by the client and ``< frame`` is
  received; the frames received after one request may arrive in any order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
BIN = Path(sys.executable).parent

FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```\s*$", re.MULTILINE | re.DOTALL)
FILE_MARK = re.compile(
    r"^# (?P<path>[\w./-]+\.(?:py|ini|cfg|toml|txt))"
    r"(?: \((?P<production>production: )?add at the end\))?$"
)


@dataclass
class Block:
    lang: str
    body: str

    @property
    def file(self) -> tuple[str, str, bool] | None:
        """``(path, mode, production_only)`` for a file block, else None."""
        first = self.body.split("\n", 1)[0]
        match = FILE_MARK.match(first)
        if match is None or self.lang not in {"python", "ini"}:
            return None
        appended = "add at the end" in first
        return match["path"], "append" if appended else "write", bool(match["production"])


def blocks(page: str) -> list[Block]:
    text = (DOCS / page).read_text()
    return [Block(m["lang"], m["body"]) for m in FENCE.finditer(text)]


def console_commands(block: Block) -> list[tuple[str, list[str]]]:
    """``[(command, output lines)]`` of a console block."""
    commands: list[tuple[str, list[str]]] = []
    for line in block.body.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        elif commands and line.strip():
            commands[-1][1].append(line)
    return commands


def python_block(page: str, first_line: str) -> str:
    """The body of ``page``'s last file block whose first line is ``first_line``."""
    found = [b.body for b in blocks(page) if b.body.split("\n", 1)[0] == first_line]
    assert found, f"{page} has no block starting with {first_line!r}"
    return found[-1]


@dataclass
class Project:
    root: Path
    env: dict[str, str]
    log: list[str] = field(default_factory=list)

    def run(self, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        argv = shlex.split(command)
        if argv[0] == "python":
            argv[0] = sys.executable
        elif (BIN / argv[0]).exists():
            argv[0] = str(BIN / argv[0])
        result = subprocess.run(
            argv, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        self.log.append(f"$ {command}\n{result.stdout}{result.stderr}")
        assert result.returncode == 0, f"`{command}` failed:\n{result.stdout}{result.stderr}"
        return result

    def apply(self, block: Block, production: bool) -> None:
        path, mode, production_only = block.file  # type: ignore[misc]
        if production_only and not production:
            return
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "append":
            with target.open("a") as file:
                file.write("\n" + block.body)
        else:
            target.write_text(block.body)

    @contextlib.contextmanager
    def serve(self, server: str = "uvicorn") -> Iterator[int]:
        """Serve ``mysite.asgi:application`` with uvicorn or daphne; yields the port."""
        port = free_port()
        if server == "uvicorn":
            argv = [str(BIN / "uvicorn"), "mysite.asgi:application", "--port", str(port)]
        else:
            argv = [str(BIN / "daphne"), "-p", str(port), "mysite.asgi:application"]
        log = (self.root / f"{server}-{port}.log").open("w+")
        process = subprocess.Popen(argv, cwd=self.root, env=self.env, stdout=log, stderr=log)
        try:
            wait_for_port(port, process, log)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def fresh_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTHON"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def build_project(root: Path, pages: list[str], production: bool = False, **env: str) -> Project:
    """``django-admin startproject mysite`` in ``root``, then every page's blocks in order."""
    project = Project(root, fresh_env(**env))
    project.run(f"django-admin startproject mysite {root}")
    for page in pages:
        for block in blocks(page):
            if block.file is not None:
                project.apply(block, production)
            elif block.lang == "console":
                for command, output in console_commands(block):
                    if not command.startswith("python manage.py ") or " shell " in command:
                        continue
                    result = project.run(command)
                    for line in output:
                        assert line in result.stdout + result.stderr, (command, line, result)
    return project


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[Any], log: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise AssertionError(f"the server exited:\n{log.read()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    log.seek(0)
    raise AssertionError(f"the server did not listen on {port} within {timeout}s:\n{log.read()}")


def frame_steps(block: Block) -> list[tuple[str, Any]]:
    """``[("send", frame) | ("expect", [frames])]`` of a frames block."""
    steps: list[tuple[str, Any]] = []
    for line in block.body.splitlines():
        if line.startswith("> "):
            steps.append(("send", json.loads(line[2:])))
        elif line.startswith("< "):
            frame = json.loads(line[2:])
            if steps and steps[-1][0] == "expect":
                steps[-1][1].append(frame)
            else:
                steps.append(("expect", [frame]))
    return steps


async def expect_frames(ws: Any, expected: list[Any], within: float = 10) -> None:
    """Receive ``len(expected)`` frames and compare them as a multiset (any order)."""
    received = []
    async with asyncio.timeout(within):
        while len(received) < len(expected):
            received.append(json.loads(await ws.recv()))
    key = lambda frame: json.dumps(frame, sort_keys=True)  # noqa: E731
    assert sorted(received, key=key) == sorted(expected, key=key)


def connect(port: int, origin: bool = True) -> Any:
    """A websocket client like a browser page of the site: with its Origin."""
    import websockets.asyncio.client  # the test extra; not in the version matrix

    return websockets.asyncio.client.connect(
        f"ws://127.0.0.1:{port}/ws/", origin=f"http://127.0.0.1:{port}" if origin else None
    )
