"""``python -m benchmarks.scoped``: observer delivery under scoping, on PostgreSQL + Redis.

Two workloads against one uvicorn server (``benchmarks.project.scoped_app``),
each with its own PostgreSQL database and channel-layer prefix:

- ``lists``: list subscriptions with distinct filters (``title``), all on one
  socket or spread over 100 sockets, plus one bystander socket. Each round a
  writer socket patches a book's title to match one filter; the figure is the
  delay from sending the patch to receiving the matching subscription's push.
  The baseline is a single list subscription.
- ``fanout``: 1,000 sockets (each its own ``?tenant=``) ``subscribe_instance``
  one book on the ``shelf`` stream (nothing restricts ``get_queryset()``) and
  another on ``scoped`` (1,000 distinct scoped querysets); each round patches
  each book; the figures are the delay to the last push and the p50.

``--code PATH`` runs the server from another checkout, and ``--before PATH``
runs a second server from another checkout (e.g. ``git archive`` of the code
before a change) for the fan-out, interleaved round by round with this one;
this benchmark's app module is copied into those checkouts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.loadgen import Connection, close_many, open_many
from benchmarks.servers import ROOT, free_port
from benchmarks.stats import percentile

SETUP = """
import django
django.setup()
from django.core.management import call_command
from benchmarks.project.models import Author, Book
call_command("migrate", run_syncdb=True, verbosity=0)
author = Author.objects.create(name="A")
Book.objects.bulk_create(Book(title=f"seed {i}", author=author, pages=i) for i in range(100))
"""

_ids = itertools.count(1)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@contextlib.contextmanager
def server(code: Path) -> Iterator[str]:
    """A database, a Redis prefix and a uvicorn process serving ``scoped_app``."""
    db = f"bench_scoped_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    prefix = f"bench-scoped-{uuid.uuid4().hex[:8]}"
    if code != ROOT:
        for name in ("scoped_app.py", "scoped_settings.py"):
            shutil.copy(ROOT / "benchmarks" / "project" / name, code / "benchmarks" / "project")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.project.scoped_settings",
        "BENCH_PG_DB": db,
        "BENCH_REDIS_PREFIX": prefix,
        "PYTHONPATH": str(code),
    }
    admin_sql(f'CREATE DATABASE "{db}"')
    port = free_port()
    process = None
    try:
        subprocess.run([sys.executable, "-c", SETUP], cwd=code, env=env, check=True, timeout=120)
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "benchmarks.project.scoped_app:application",
             "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off",
             "--log-level", "warning", "--ws-max-size", "16777216"],
            cwd=code, env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        import socket

        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        yield f"ws://127.0.0.1:{port}/ws/"
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        admin_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        with contextlib.suppress(Exception):
            import redis

            client = redis.Redis(host="127.0.0.1", port=6379)
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)


async def request(connection: Connection, stream: str, payload: dict[str, Any]) -> Any:
    reply, _ = await connection.request(stream, payload, reply_timeout=300)
    return reply


async def subscribe_all(
    connections: list[Connection], stream: str, payloads: list[list[dict[str, Any]]]
) -> None:
    """Send each connection's subscribes (at most 500 in flight per connection)."""

    async def one(connection: Connection, mine: list[dict[str, Any]]) -> None:
        for start in range(0, len(mine), 500):
            replies = await asyncio.gather(
                *(request(connection, stream, p) for p in mine[start : start + 500])
            )
            bad = [r for r in replies if r.get("response_status") != 201]
            if bad:
                raise RuntimeError(f"subscribe answered {bad[0]!r}")

    limit = asyncio.Semaphore(50)

    async def bounded(connection: Connection, mine: list[dict[str, Any]]) -> None:
        async with limit:
            await one(connection, mine)

    await asyncio.gather(*(bounded(c, p) for c, p in zip(connections, payloads, strict=True)))


async def lists(url: str, subscriptions: int, sockets: int, rounds: int) -> dict[str, float]:
    """List subscriptions ``title=t0..t{n-1}`` over ``sockets`` sockets; per round the
    book is renamed to ``t{k}``; the delay to subscription k's push is timed."""
    connections, _ = await open_many(url, sockets)
    writer = await Connection.open(url)
    bystander = await Connection.open(url)
    tag = next(_ids)
    try:
        payloads: list[list[dict[str, Any]]] = [[] for _ in connections]
        for i in range(subscriptions):
            payloads[i % sockets].append(
                {"action": "subscribe_list", "title": f"t{tag}-{i}", "request_id": f"l{i}"}
            )
        await subscribe_all(connections, "shelf", payloads)
        await asyncio.sleep(0.5)
        delays: list[float] = []
        bystander_ms: list[float] = []
        for round_index in range(rounds):
            k = (round_index * 7919) % subscriptions
            arrived: asyncio.Future[float] = asyncio.get_running_loop().create_future()

            def on_event(payload: dict[str, Any], at: float, k: int = k, f: Any = arrived) -> None:
                wanted = payload.get("action") in ("create", "update")
                if wanted and payload.get("request_id") == f"l{k}" and not f.done():
                    f.set_result(at)

            for connection in connections:
                connection.on_event = on_event
            sent = time.perf_counter()
            patch = {"action": "patch", "pk": 1, "data": {"title": f"t{tag}-{k}"}}
            write = asyncio.ensure_future(request(writer, "shelf", {**patch, "request_id": "w"}))
            # A bystander's request during the fan-out: answered meanwhile?
            asked = time.perf_counter()
            await request(bystander, "shelf", {"action": "retrieve", "pk": 2, "request_id": "b"})
            bystander_ms.append((time.perf_counter() - asked) * 1000)
            reply = await write
            if reply.get("response_status") != 200:
                raise RuntimeError(f"patch answered {reply!r}")
            at = await asyncio.wait_for(arrived, 300)
            delays.append((at - sent) * 1000)
            await asyncio.sleep(0.2)  # the old member's delete push drains
        return {
            "p50": percentile(delays, 50),
            "max": max(delays),
            "bystander_p50": percentile(bystander_ms, 50),
        }
    finally:
        await writer.close()
        await bystander.close()
        await close_many(connections)


#: Fan-out cases: (label, stream, book pk). Each socket subscribes to both.
FANOUT_CASES = (("shelf (no scope)", "shelf", 3), ("scoped (a tenant each)", "scoped", 4))


async def fanout(
    urls: dict[str, str], subscribers: int, rounds: int
) -> dict[tuple[str, str], dict[str, float]]:
    """On each server, ``subscribers`` sockets (``?tenant=i``, so every socket's
    scoped queryset compiles to its own SQL) subscribe to book 3 on ``shelf``
    and book 4 on ``scoped``. Each round patches each book on each server in
    turn (interleaved, so load drift hits every case alike) and times the
    delay from the patch to every subscriber's push."""
    sockets: dict[str, list[Connection]] = {}
    writers: dict[str, Connection] = {}
    try:
        for label, url in urls.items():
            opened: list[Connection] = []
            for start in range(0, subscribers, 100):
                opened += await asyncio.gather(
                    *(
                        Connection.open(f"{url}?tenant={i}")
                        for i in range(start, min(subscribers, start + 100))
                    )
                )
            sockets[label] = opened
            writers[label] = await Connection.open(url)
            for _, stream, pk in FANOUT_CASES:
                payload = {"action": "subscribe_instance", "pk": pk, "request_id": stream}
                await subscribe_all(opened, stream, [[payload] for _ in opened])
        await asyncio.sleep(0.5)
        lasts: dict[tuple[str, str], list[float]] = {}
        p50s: dict[tuple[str, str], list[float]] = {}
        labels = list(urls)
        for round_index in range(rounds):
            # Each server goes first in turn: the one that follows meets a busier machine.
            shift = round_index % len(labels)
            for label in labels[shift:] + labels[:shift]:
                for case, stream, pk in FANOUT_CASES:
                    title = f"fan-{next(_ids)}-{round_index}"
                    got: list[float] = []
                    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                    expected = len(sockets[label])

                    def on_event(
                        payload: dict[str, Any],
                        at: float,
                        title: str = title,
                        got: list[float] = got,
                        done: asyncio.Future[None] = done,
                        expected: int = expected,
                    ) -> None:
                        data = payload.get("data") or {}
                        if payload.get("action") == "update" and data.get("title") == title:
                            got.append(at)
                            if len(got) == expected and not done.done():
                                done.set_result(None)

                    for connection in sockets[label]:
                        connection.on_event = on_event
                    sent = time.perf_counter()
                    payload = {"action": "patch", "pk": pk, "data": {"title": title}}
                    await request(writers[label], stream, {**payload, "request_id": "w"})
                    await asyncio.wait_for(done, 120)
                    delays = [(at - sent) * 1000 for at in got]
                    lasts.setdefault((label, case), []).append(max(delays))
                    p50s.setdefault((label, case), []).append(percentile(delays, 50))
                    await asyncio.sleep(0.3)
        return {
            key: {"p50": percentile(p50s[key], 50), "last": percentile(lasts[key], 50)}
            for key in lasts
        }
    finally:
        for writer in writers.values():
            await writer.close()
        for opened in sockets.values():
            await close_many(opened)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scoped", description=__doc__)
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout the server runs")
    parser.add_argument(
        "--before", type=Path, help="fan-out: also run this checkout's server, interleaved"
    )
    parser.add_argument("--only", choices=("lists", "fanout"), action="append")
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--fanout-rounds", type=int, default=5)
    parser.add_argument("--subscribers", type=int, default=1000, help="fan-out sockets")
    args = parser.parse_args(argv)
    only = set(args.only or ("lists", "fanout"))
    code = args.code.resolve()
    log(f"server code: {code}")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(server(code))
        if "lists" in only:
            n = args.subscriptions
            for label, subs, sockets in (
                ("1 list subscription", 1, 1),
                (f"{n} list subscriptions, 1 socket", n, 1),
                (f"{n} list subscriptions, 100 sockets", n, 100),
            ):
                result = asyncio.run(lists(url, subs, sockets, args.rounds))
                log(
                    f"lists  | {label:40} | push p50 {result['p50']:9.1f} ms | max "
                    f"{result['max']:9.1f} ms | bystander retrieve p50 "
                    f"{result['bystander_p50']:7.1f} ms"
                )
        if "fanout" in only:
            urls = {"this": url}
            if args.before is not None:
                log(f"before code: {args.before.resolve()}")
                urls = {"before": stack.enter_context(server(args.before.resolve())), **urls}
            results = asyncio.run(fanout(urls, args.subscribers, args.fanout_rounds))
            for (label, case), result in results.items():
                log(
                    f"fanout | {label:6} | {args.subscribers:,} subscribers, {case:24} | "
                    f"p50 {result['p50']:8.1f} ms | time to last {result['last']:8.1f} ms"
                )


if __name__ == "__main__":
    main()
