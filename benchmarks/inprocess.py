"""The cost of one list or retrieve in this process: ``python -m benchmarks.inprocess``.

No server, no socket, no other thread: the benchmark's own consumers
(``benchmarks.project.ours``: ``LibraryConsumer.list``, ``BookConsumer.retrieve``)
are called as their action thread calls them, beside what the same work costs
without us (``drf``: the query with its prefetch and DRF's serializer built
per call, as a plain view does; ``orm``: the query alone). On a shared,
loaded machine wall time says little, so each operation is measured as:

- ``calls``: Python function calls per operation (``cProfile``), exact and
  repeatable: what a change removes shows here whatever the load;
- ``cpu_us``: CPU time of this thread per operation (best of 5 batches, 2 with ``--quick``);
- with ``--callgrind``: instructions per operation, counted by valgrind's
  callgrind over the measured loop only (needs ``valgrind``; about a minute
  per operation kind).

::

    python -m benchmarks.inprocess                       # every kind, a table
    python -m benchmarks.inprocess --only list --callgrind

The database is a fresh seeded SQLite file (``benchmarks.project.seed``) in a
temporary directory.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("list", "drf list", "orm list", "retrieve", "drf retrieve", "orm retrieve")


def operations() -> dict[str, Callable[[int], Any]]:
    """Each kind's operation; Django must be set up with ``BENCH_STACK=ours``."""
    from django.contrib.auth.models import AnonymousUser

    from benchmarks.project import ours
    from benchmarks.project.models import Book
    from benchmarks.project.serializers import BookSerializer
    from gateway import RouteTable, StreamScope

    routes = RouteTable.from_streams(ours.BenchGateway.streams)

    def consumer(cls: type, stream: str) -> Any:
        instance = cls()
        instance.scope = {
            "type": "websocket",
            "path": "/ws/",
            "headers": [],
            "query_string": b"",
            "user": AnonymousUser(),
            "gateway": StreamScope(routes, stream),
        }
        return instance

    library = consumer(ours.LibraryConsumer, "library")
    books = consumer(ours.BookConsumer, "books")

    def list_(i: int) -> Any:
        data, _ = library.list(action="list", request_id=i)
        assert len(data) == 100, len(data)
        return data

    return {
        "list": list_,
        "drf list": lambda i: (
            BookSerializer(Book.objects.order_by("id").prefetch_related("tags"), many=True).data
        ),
        "orm list": lambda i: list(Book.objects.order_by("id").prefetch_related("tags")),
        "retrieve": lambda i: books.retrieve(action="retrieve", pk=i % 100 + 1)[0],
        "drf retrieve": lambda i: (
            BookSerializer(Book.objects.prefetch_related("tags").get(pk=i % 100 + 1)).data
        ),
        "orm retrieve": lambda i: Book.objects.prefetch_related("tags").get(pk=i % 100 + 1),
    }


#: Operations per batch, and timed batches (the best is kept); ``--quick`` scales down.
SCALE = {"runs": 1.0, "batches": 5}


def repetitions(kind: str) -> int:
    return max(2, int((20 if "list" in kind else 200) * SCALE["runs"]))


def measure(kind: str, op: Callable[[int], Any]) -> dict[str, float]:
    n = repetitions(kind)
    for i in range(3):
        op(i)  # warm: plans, resolvers, the connection
    profile = cProfile.Profile()
    profile.enable()
    for i in range(n):
        op(i)
    profile.disable()
    calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    batches = []
    for _ in range(int(SCALE["batches"])):
        started = time.thread_time()
        for i in range(n):
            op(i)
        batches.append((time.thread_time() - started) / n)
    return {"calls": calls / n, "cpu_us": min(batches) * 1e6}


def callgrind(kind: str) -> float:
    """Instructions per operation, counted inside ``functools.reduce`` only (the loop)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--callgrind needs valgrind on PATH")
    n = max(5, repetitions(kind) // 4)
    with tempfile.TemporaryDirectory(prefix="bench-cg-") as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            [
                valgrind,
                "--tool=callgrind",
                "--collect-atstart=no",
                "--toggle-collect=functools_reduce",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-m",
                "benchmarks.inprocess",
                "--loop",
                kind,
                str(n),
            ],
            cwd=ROOT,
            env=os.environ,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        total = 0
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
        return total / n


def setup(directory: str) -> None:
    os.environ["BENCH_STACK"] = "ours"
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.project.settings"
    os.environ.setdefault("BENCH_DB", str(Path(directory) / "bench.sqlite3"))
    if not Path(os.environ["BENCH_DB"]).exists():
        subprocess.run(
            [sys.executable, "-m", "benchmarks.project.seed", os.environ["BENCH_DB"]],
            cwd=ROOT,
            env=dict(os.environ, BENCH_STACK="none"),
            check=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.inprocess", description=__doc__)
    parser.add_argument("--only", action="append", choices=KINDS, help="repeatable")
    parser.add_argument("--callgrind", action="store_true", help="also count instructions")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--quick", action="store_true", help="a tenth of the operations")
    parser.add_argument("--loop", nargs=2, help=argparse.SUPPRESS)  # KIND N, under valgrind
    args = parser.parse_args(argv)
    if args.quick:
        SCALE.update(runs=0.1, batches=2)
    with tempfile.TemporaryDirectory(prefix="bench-inprocess-") as tmp:
        setup(tmp)
        import django

        django.setup()
        ops = operations()
        if args.loop:
            kind, n = args.loop[0], int(args.loop[1])
            for i in range(3):
                ops[kind](i)
            functools.reduce(lambda _, i: ops[kind](i), range(n), None)
            return 0
        results: dict[str, dict[str, float]] = {}
        for kind in args.only or KINDS:
            results[kind] = measure(kind, ops[kind])
            if args.callgrind:
                results[kind]["instructions"] = callgrind(kind)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        "| operation | Python calls | CPU µs (best batch) |" + (" instructions |" * args.callgrind)
    )
    print("|---|---:|---:|" + ("---:|" * args.callgrind))
    for kind, row in results.items():
        line = f"| {kind} | {row['calls']:,.0f} | {row['cpu_us']:,.0f} |"
        if args.callgrind:
            line += f" {row['instructions'] / 1e6:,.2f} M |"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
