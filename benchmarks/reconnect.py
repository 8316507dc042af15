"""Mass reconnect: many subscribers dropped at once come back and catch up.

``python -m benchmarks.reconnect [--clients 1000] [--books 100] [--missed 3]
[--mode resume|resync|both] [--spread SECONDS]``

For each mode, against our stack (``benchmarks.project.ours``, uvicorn,
channels_redis, the benchmark's SQLite database):

1. a server starts; ``clients`` sockets each subscribe to one of ``books``
   books (``subscribe_instance``) and keep the positions the reply gives;
2. the server is killed (SIGKILL: every socket drops at once);
3. while no server runs, this process (another writer, as a Celery worker
   or a management command would be) updates every book ``missed`` times;
4. a new server process starts on the same port, and every client
   reconnects at once (``--spread`` spreads them over that many seconds, as
   the JS client's jittered backoff would) and catches up:
   - ``resume``: the observer keeps a history; the client subscribes again
     with ``resume`` and must receive exactly its ``missed`` events, in
     order, replayed from Redis;
   - ``resync``: no history (the default, and all that DCRF offers); the
     client subscribes again with ``"snapshot": true`` and gets the object.
5. Measured: the time until the last client has caught up (and the median
   and 99th percentile per client), and the SQL statements the new server
   process ran (every thread, counted by ``benchmarks.project.querycount``).

Prints a Markdown table and one JSON line per mode. Needs Redis at
127.0.0.1:6379 (a per-run key prefix, deleted afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from benchmarks.cli import seed_database
from benchmarks.servers import HOST, ROOT, cpu_plan, free_port, pin

APP = "benchmarks.project.ours:application"
REDIS_URL = "redis://127.0.0.1:6379/0"
TIMEOUT = 120.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Client:
    book: int
    request_id: str = "s"
    positions: list[dict[str, Any]] = field(default_factory=list)
    recovered_at: float | None = None
    missed: list[dict[str, Any]] = field(default_factory=list)
    reply: dict[str, Any] | None = None


def environment(db: Path, prefix: str, history: bool, query_file: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONDONTWRITEBYTECODE="1",
        DJANGO_SETTINGS_MODULE="benchmarks.project.settings",
        BENCH_STACK="ours",
        BENCH_LAYER="redis",
        BENCH_REDIS_URL=REDIS_URL,
        BENCH_REDIS_PREFIX=prefix,
        BENCH_STREAMS="3",
        BENCH_DB=str(db),
        BENCH_HISTORY="1" if history else "0",
    )
    env.pop("BENCH_QUERY_COUNT", None)
    if query_file is not None:
        env["BENCH_QUERY_COUNT"] = str(query_file)
    return env


def start_server(env: dict[str, str], port: int, workdir: Path) -> subprocess.Popen[bytes]:
    server_cpus, _ = cpu_plan()
    logs = Path(os.environ.get("BENCH_LOG_DIR") or workdir)
    log_file = open(logs / f"server-{port}-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            APP,
            "--host",
            HOST,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--lifespan",
            "off",
        ],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log_file.close()
    pin(process.pid, server_cpus)
    deadline = time.monotonic() + 60
    import socket

    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited at startup (see {workdir})")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return process
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("the server did not listen within 60 s")


def stop_server(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


async def subscribe(
    url: str, client: Client, payload: dict[str, Any], expect_pushes: int
) -> ClientConnection:
    """Open a socket, subscribe, wait for the reply and ``expect_pushes`` pushes."""
    ws = await connect(url, max_size=None, open_timeout=TIMEOUT, ping_interval=None)
    await ws.send(json.dumps({"stream": "books", "payload": payload}))
    while client.reply is None or len(client.missed) < expect_pushes:
        frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        body = frame["payload"]
        if body.get("action") == payload["action"]:
            client.reply = body
            if body["response_status"] != 201:
                raise RuntimeError(f"subscribe failed: {body}")
            if expect_pushes and body.get("resume", {}).get("recovered") is not True:
                raise RuntimeError(f"resume not recovered: {body.get('resume')}")
        else:
            client.missed.append(body)
    return ws


def write_missed(env: dict[str, str], books: int, missed: int) -> None:
    """Update every book ``missed`` times from another process (no server runs)."""
    code = (
        "import django; django.setup(); import benchmarks.project.ours; "
        "from benchmarks.project.models import Book\n"
        f"for n in range({missed}):\n"
        f"    for book in Book.objects.order_by('id')[:{books}]:\n"
        "        book.pages += 1; book.save()\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=600)


async def run_mode(
    mode: str, db_template: Path, clients: int, books: int, missed: int, spread: float
) -> dict[str, Any]:
    history = mode == "resume"
    prefix = f"bench-reconnect-{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory(prefix="bench-reconnect-") as tmp:
        workdir = Path(tmp)
        db = workdir / "db.sqlite3"
        shutil.copyfile(db_template, db)
        port = free_port()
        url = f"ws://{HOST}:{port}/ws/"
        book_ids = list(range(1, books + 1))
        everyone = [Client(book=book_ids[i % books]) for i in range(clients)]
        try:
            first = start_server(environment(db, prefix, history, None), port, workdir)
            sockets = []
            try:
                for start in range(0, clients, 100):
                    batch = everyone[start : start + 100]
                    sockets += await asyncio.gather(
                        *(
                            subscribe(
                                url,
                                c,
                                {"action": "subscribe_instance", "pk": c.book, "request_id": "s"},
                                0,
                            )
                            for c in batch
                        )
                    )
                for c in everyone:
                    assert c.reply is not None
                    c.positions = list(c.reply.get("positions") or [])
                log(f"{mode}: {clients} clients subscribed to {books} books; killing the server")
            finally:
                stop_server(first, signal.SIGKILL)
                for ws in sockets:
                    ws.transport.abort()
            write_missed(environment(db, prefix, history, None), books, missed)
            query_file = workdir / "queries.txt"
            second = start_server(environment(db, prefix, history, query_file), port, workdir)
            try:
                for c in everyone:
                    c.reply, c.missed = None, []
                started = time.perf_counter()

                async def come_back(index: int, c: Client) -> ClientConnection:
                    if spread:
                        await asyncio.sleep(spread * index / clients)
                    payload: dict[str, Any] = {
                        "action": "subscribe_instance",
                        "pk": c.book,
                        "request_id": "s",
                    }
                    if history:
                        payload["resume"] = {
                            p["group"]: [p["epoch"], p["offset"]] for p in c.positions
                        }
                    else:
                        payload["snapshot"] = True
                    ws = await subscribe(url, c, payload, missed if history else 0)
                    c.recovered_at = time.perf_counter() - started
                    return ws

                back = await asyncio.gather(*(come_back(i, c) for i, c in enumerate(everyone)))
                total = time.perf_counter() - started
                for ws in back:
                    await ws.close()
            finally:
                stop_server(second, signal.SIGINT)  # SIGINT: atexit runs (count written)
            queries = int(query_file.read_text()) if query_file.exists() else -1
        finally:
            _delete_redis_keys(prefix)
    check(mode, everyone, missed)
    per_client = sorted(c.recovered_at or 0.0 for c in everyone)
    return {
        "mode": mode,
        "clients": clients,
        "books": books,
        "missed_per_client": missed if history else 0,
        "spread_s": spread,
        "all_recovered_s": round(total, 3),
        "median_client_s": round(statistics.median(per_client), 3),
        "p99_client_s": round(per_client[int(len(per_client) * 0.99) - 1], 3),
        "server_queries": queries,
        "queries_per_client": round(queries / clients, 2) if queries >= 0 else None,
    }


def check(mode: str, everyone: list[Client], missed: int) -> None:
    """Every client has exactly what it missed (resume) or a current snapshot (resync)."""
    for c in everyone:
        assert c.reply is not None
        if mode == "resync":
            assert c.reply["data"] is not None, c.reply
            continue
        (start,) = c.positions
        offsets = [push["position"]["offset"] for push in c.missed]
        assert offsets == list(range(start["offset"] + 1, start["offset"] + missed + 1)), offsets
        assert {push["position"]["epoch"] for push in c.missed} == {start["epoch"]}


def _delete_redis_keys(prefix: str) -> None:
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(connection.scan_iter(f"{prefix}*"))
        if keys:
            connection.delete(*keys)
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reconnect", description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--books", type=int, default=100)
    parser.add_argument("--missed", type=int, default=3, help="updates per book while away")
    parser.add_argument("--mode", choices=["resume", "resync", "both"], default="both")
    parser.add_argument("--spread", type=float, default=0.0, help="reconnects spread over s")
    args = parser.parse_args(argv)
    modes = ["resume", "resync"] if args.mode == "both" else [args.mode]
    _, load_cpus = cpu_plan()
    pin(os.getpid(), load_cpus)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-reconnect-seed-") as tmp:
        template = seed_database(Path(tmp))
        for mode in modes:
            results.append(
                asyncio.run(
                    run_mode(mode, template, args.clients, args.books, args.missed, args.spread)
                )
            )
    columns = [
        "mode",
        "clients",
        "missed_per_client",
        "all_recovered_s",
        "median_client_s",
        "p99_client_s",
        "server_queries",
        "queries_per_client",
    ]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for result in results:
        print("| " + " | ".join(str(result[column]) for column in columns) + " |")
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
