"""The ORM limit: the same query, serializer and JSON encoding in a plain loop.

``python -m benchmarks.orm_loop --duration S --threads 1,8`` with ``BENCH_DB``
or ``BENCH_PG_NAME`` in the environment (run by the harness as a subprocess on
the server's core). No server, no websocket, no channel layer: what a retrieve
or a list costs in this process is the query with its prefetch, DRF's
``BookSerializer(...).data`` (a fresh serializer per call, as a plain DRF view
does) and ``json.dumps`` of the reply payload. With N threads every thread
runs the loop on its own database connection, as our action threads do; on
PostgreSQL the database's time then overlaps Python's.

Prints one JSON object: ``{"retrieve": {"1": {"rps": .., "p50_ms": .., "p99_ms": ..},
"8": {...}}, "list": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-int(pct * len(ordered)) // 100))
    return ordered[min(rank, len(ordered)) - 1]


def _operations() -> dict[str, Callable[[int], str]]:
    from benchmarks.project.models import Book
    from benchmarks.project.serializers import BookSerializer

    def retrieve(i: int) -> str:
        book = Book.objects.prefetch_related("tags").get(pk=i % 100 + 1)
        data = BookSerializer(book).data
        return json.dumps(
            {
                "stream": "books",
                "payload": {
                    "errors": [],
                    "data": data,
                    "action": "retrieve",
                    "response_status": 200,
                    "request_id": i,
                },
            }
        )

    def list_(i: int) -> str:
        books = Book.objects.order_by("id").prefetch_related("tags")
        data = BookSerializer(books, many=True).data
        assert len(data) == 100, len(data)
        return json.dumps(
            {
                "stream": "library",
                "payload": {
                    "errors": [],
                    "data": data,
                    "action": "list",
                    "response_status": 200,
                    "request_id": i,
                },
            }
        )

    return {"retrieve": retrieve, "list": list_}


def measure(operation: Callable[[int], str], threads: int, duration: float) -> dict[str, float]:
    """Run ``operation`` in ``threads`` threads for ``duration`` s: rate and latency."""
    from django.db import connection

    latencies: list[list[float]] = [[] for _ in range(threads)]
    deadline = [0.0]
    started = [0.0]

    def clock_starts() -> None:
        # Run once every thread is connected and warm, before any is released:
        # a deadline set earlier could pass during 8 threads' first lists.
        started[0] = time.perf_counter()
        deadline[0] = started[0] + duration + 0.05

    start = threading.Barrier(threads + 1, action=clock_starts)

    def worker(index: int) -> None:
        operation(index)  # open this thread's connection before the clock starts
        start.wait()
        mine = latencies[index]
        i = index
        clock = time.perf_counter
        while True:
            began = clock()
            if began >= deadline[0]:
                break
            operation(i)
            mine.append(clock() - began)
            i += threads
        connection.close()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    # Release the threads only once every one of them is connected and warm.
    start.wait()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started[0]
    every = [x for mine in latencies for x in mine]
    return {
        "rps": len(every) / elapsed if elapsed > 0 else 0.0,
        "p50_ms": _percentile(every, 50) * 1000,
        "p99_ms": _percentile(every, 99) * 1000,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--threads", default="1", help="comma-separated thread counts")
    parser.add_argument("--kinds", default="retrieve,list")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.project.settings")
    os.environ["BENCH_STACK"] = "none"
    import django

    django.setup()
    operations = _operations()
    result: dict[str, Any] = {}
    for kind in args.kinds.split(","):
        operation = operations[kind]
        warm_until = time.perf_counter() + 0.3
        for index in range(20):  # warm the query, serializer and connection
            if index >= 2 and time.perf_counter() > warm_until:
                break  # lists: 20 of them took seconds on a loaded machine
            operation(0)
        result[kind] = {
            threads: measure(operation, int(threads), args.duration)
            for threads in args.threads.split(",")
        }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
