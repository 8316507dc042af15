"""Zero-subscriber overhead, measured in-process (run by the harness as a subprocess).

``python -m benchmarks.zero_sub --observers on|off --count N --rounds R`` with
``BENCH_STACK`` (ours | ref | none) and ``BENCH_DB`` (a copy of the benchmark
database) in the environment. With ``--observers on`` the stack's ASGI module
is imported exactly as the server imports it, so every model observer it
declares is registered; nobody subscribes. With ``off`` nothing but Django and
the models is loaded: no observers at all.

Two loads of the observed ``Book`` model are timed, each over ``count``
instances:

- read: ``list(Book.objects.all())`` (every instance passes ``post_init``);
- write: ``count`` ``Book.objects.create()`` calls in one transaction,
  commit included (every instance passes ``post_save`` and ``on_commit``).

Prints one JSON object: ``{"read": [seconds...], "write": [seconds...]}``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--observers", choices=["on", "off"], required=True)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.project.settings")
    stack = os.environ.get("BENCH_STACK", "none")
    import django

    django.setup()
    if args.observers == "on":
        module = {"ours": "benchmarks.project.ours", "ref": "benchmarks.project.reference"}[stack]
        __import__(module)

    from django.db import connection, transaction

    from benchmarks.project.models import Author, Book

    author = Author.objects.order_by("id").first()
    assert author is not None, "the benchmark database has no authors"
    first_new = Book.objects.order_by("-id").values_list("id", flat=True).first() or 0
    # Untimed: enough rows to read (bulk_create sends no post_save).
    Book.objects.bulk_create(
        Book(title=f"zero {i}", author=author, pages=i, summary="zero-subscriber load")
        for i in range(args.count)
    )

    def reset() -> None:
        # Raw SQL: no post_delete signals, and the table returns to count + seed rows.
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM benchapp_book WHERE id > %s",
                [first_new + args.count],
            )

    def read_once() -> float:
        gc.collect()  # the same collector state before every timed load
        started = time.perf_counter()
        loaded = list(Book.objects.all()[: args.count])
        elapsed = time.perf_counter() - started
        assert len(loaded) == args.count, (len(loaded), args.count)
        return elapsed

    def write_once(count: int = args.count) -> float:
        gc.collect()
        started = time.perf_counter()
        with transaction.atomic():
            for i in range(count):
                Book.objects.create(title=f"w {i}", author=author, pages=i, summary="write")
        elapsed = time.perf_counter() - started
        reset()
        return elapsed

    read_once()  # warm the query and model caches
    write_once(200)
    # Reads take milliseconds: more rounds for a steadier median, at little cost.
    reads = [read_once() for _ in range(max(args.rounds, 7))]
    writes = [write_once() for _ in range(args.rounds)]
    json.dump({"read": reads, "write": writes}, sys.stdout)


if __name__ == "__main__":
    main()
