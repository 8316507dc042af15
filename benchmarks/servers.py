"""Start, watch and always stop the ASGI servers under test.

Each server is a subprocess on 127.0.0.1 with a random free port, pinned to one
core when the machine has two or more (the load generator takes another), with
its own copy of the benchmark database. Nothing here imports Django.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

APPS = {
    "ours": "benchmarks.project.ours:application",
    "ref": "benchmarks.project.reference:application",
    "limit": "benchmarks.limit:application",
}

_running: set[Server] = set()


def cpu_plan() -> tuple[set[int] | None, set[int] | None]:
    """(server cpus, load generator cpus), or (None, None) when pinning is pointless."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return None, None
    if len(cpus) < 2:
        return None, None
    return {cpus[0]}, {cpus[1]}


def pin(pid: int, cpus: set[int] | None) -> None:
    if cpus is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(pid, cpus)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB, from /proc (psutil when /proc is absent)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    import psutil

    return int(psutil.Process(pid).memory_info().rss // 1024)


@dataclass(eq=False)
class Server:
    """One ASGI server process; use as a context manager so it is always killed."""

    stack: str  # ours | ref | limit
    python: str
    db_template: Path | None
    server: str = "uvicorn"  # uvicorn | daphne
    layer: str = "memory"  # memory | redis
    streams: int = 3
    redis_prefix: str = ""
    cpus: set[int] | None = None
    startup_timeout: float = 60.0
    workers: int = 1  # uvicorn --workers (the many-process workload)
    pg_name: str = ""  # PostgreSQL database of the run; SQLite when empty
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-srv-")))

    @property
    def url(self) -> str:
        return f"ws://{HOST}:{self.port}/ws/"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def label(self) -> str:
        return f"{self.stack}/{self.server}/{self.layer}/{self.streams} streams"

    def command(self) -> list[str]:
        app = APPS[self.stack]
        python = [self.python]
        if self.server == "uvicorn":
            return [
                *python,
                "-m",
                "uvicorn",
                app,
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
                "--lifespan",
                "off",
                # uvicorn's default websocket implementation (websockets-sansio).
                "--ws",
                "auto",
                *(["--workers", str(self.workers)] if self.workers > 1 else []),
            ]
        if self.server == "daphne":
            return [*python, "-m", "daphne", "-b", HOST, "-p", str(self.port), "-v", "0", app]
        raise ValueError(f"unknown server {self.server!r}: use uvicorn or daphne")

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("DJANGO_SETTINGS_MODULE", None)
        env["PYTHONPATH"] = str(ROOT)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["DJANGO_SETTINGS_MODULE"] = "benchmarks.project.settings"
        env["BENCH_STACK"] = "none" if self.stack == "limit" else self.stack
        env["BENCH_LAYER"] = self.layer
        env["BENCH_STREAMS"] = str(self.streams)
        env["BENCH_REDIS_PREFIX"] = self.redis_prefix or f"bench-{os.getpid()}-{id(self)}"
        if self.pg_name:
            env["BENCH_PG_NAME"] = self.pg_name
        elif self.db_template is not None:
            db = self.workdir / "db.sqlite3"
            shutil.copyfile(self.db_template, db)
            env["BENCH_DB"] = str(db)
        env.update(self.extra_env)
        return env

    def start(self) -> Server:
        self.port = free_port()
        log = open(self.workdir / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        _running.add(self)
        pin(self.process.pid, self.cpus)
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.label} exited at startup:\n{self.log_tail()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.label} did not listen within {self.startup_timeout}s")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return (self.workdir / "server.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        process, self.process = self.process, None
        _running.discard(self)
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10 if self.workers > 1 else 5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process is not None and self.workers > 1:
            # uvicorn's worker processes share the server's session (its own,
            # see start()): make sure none outlives the supervisor.
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
        log = getattr(self, "_log", None)
        if log is not None:
            log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_all() -> None:
    """Kill every server this process started and has not stopped yet."""
    for server in list(_running):
        with contextlib.suppress(Exception):
            server.stop()


def check_python(python: str, stack: str) -> str | None:
    """Import the stack's ASGI module in ``python``; return the error, or None when it works."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="benchmarks.project.settings",
        BENCH_STACK=stack,
        BENCH_DB=":memory:",
    )
    module = APPS[stack].split(":")[0]
    result = subprocess.run(
        [python, "-c", f"import {module}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode == 0:
        return None
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {result.returncode}"


def our_python() -> str:
    return sys.executable
