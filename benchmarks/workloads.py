"""The workloads of issues 7 and 14, run against every available stack.

Each ``run_*`` function starts the servers it needs (always stopping them),
interleaves stacks within each round so slow drift on a shared machine hits
them alike, and appends :class:`~benchmarks.report.Figure` rows to the bench.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import loadgen
from benchmarks.report import Figure, Target
from benchmarks.servers import ROOT, Server, pin

WORKLOADS = ("retrieve", "list", "fanout", "cluster", "memory", "zero_sub")

#: Threads our stack runs sync actions in (``api_settings.ACTION_THREADS``'s
#: default): the ORM loop's "N threads" column uses as many.
ACTION_THREADS = 8


@dataclass
class Sizes:
    rounds: int = 3
    duration: float = 1.5  # seconds per request/response measurement
    warmup_seconds: float = 0.5  # at most, before each request/response measurement
    max_requests: int = 200_000
    fanout: tuple[int, ...] = (100, 1000)
    memory_connections: int = 1000
    memory_rounds: int = 3
    memory_streams: tuple[int, ...] = (10,)
    memory_budget: float = 20.0  # seconds per connect phase
    zero_count: int = 10_000
    retrieve_configs: tuple[tuple[int, int], ...] = ((1, 1), (1, 64), (50, 8))
    list_configs: tuple[tuple[int, int], ...] = ((1, 8),)
    # The many-process set-up: uvicorn workers on one Redis, idle subscribers.
    cluster_workers: int = 4
    cluster_subscribers: tuple[int, ...] = (1000, 10_000)
    cluster_budget: float = 90.0  # seconds to connect and subscribe, per size and stack
    cluster_rounds: int = 3  # writes per size (each fanned out to every subscriber)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            rounds=3,
            duration=0.5,
            fanout=(100,),
            memory_connections=200,
            memory_rounds=1,
            zero_count=2000,
            cluster_subscribers=(500,),
            cluster_budget=20.0,
        )

    @classmethod
    def tiny(cls) -> Sizes:
        """For the smoke test: each workload runs, nothing is measured seriously."""
        return cls(
            rounds=1,
            duration=0.2,
            warmup_seconds=0.1,
            max_requests=100,
            fanout=(5,),
            memory_connections=20,
            memory_rounds=1,
            memory_streams=(2,),
            zero_count=200,
            retrieve_configs=((1, 1), (2, 4)),
            list_configs=((1, 2),),
            cluster_workers=2,
            cluster_subscribers=(10,),
            cluster_budget=20.0,
            cluster_rounds=1,
        )


@dataclass
class Bench:
    pythons: dict[str, str]  # stack -> interpreter, only for stacks that can run
    db: Path
    sizes: Sizes
    server_cpus: set[int] | None = None
    redis: bool = True
    daphne: bool = True
    pg_name: str = ""  # the run's PostgreSQL database; no PostgreSQL rows when empty
    loop_threads: int = ACTION_THREADS
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr, flush=True)

    @property
    def stacks(self) -> list[str]:
        return [s for s in ("ours", "ref", "limit") if s in self.pythons]

    def server(self, stack: str, *, db: str = "sqlite", **kwargs: Any) -> Server:
        kwargs.setdefault("cpus", self.server_cpus)
        return Server(
            stack=stack,
            python=self.pythons[stack],
            db_template=None if stack == "limit" else self.db,
            pg_name=self.pg_name if db == "pg" and stack != "limit" else "",
            **kwargs,
        )

    def figure(
        self, workload: str, key: str, label: str, unit: str, better: str, **kw: Any
    ) -> Figure:
        for existing in self.figures:
            if existing.key == key:
                return existing
        figure = Figure(workload, key, label, unit, better, **kw)
        self.figures.append(figure)
        return figure

    def failed(self, what: str, exc: BaseException, server: Server | None = None) -> None:
        message = f"{what} failed: {type(exc).__name__}: {exc}"
        if server is not None and not server.alive():
            message += f" (server died; log tail: {server.log_tail(600)!r})"
        self.notes.append(message)
        self.log("  ! " + message)


def rotated(items: list[str], by: int) -> list[str]:
    by %= max(1, len(items))
    return items[by:] + items[:by]


@contextlib.contextmanager
def started(servers: dict[str, Server]) -> Iterator[dict[str, Server]]:
    with contextlib.ExitStack() as stack:
        for server in servers.values():
            stack.enter_context(server)
        yield servers


def _retrieve_payload(i: int) -> dict[str, Any]:
    return {"action": "retrieve", "pk": i % 100 + 1, "request_id": i}


def _list_payload(i: int) -> dict[str, Any]:
    return {"action": "list", "request_id": i}


def _list_check(reply: dict[str, Any]) -> bool:
    data = reply.get("data")
    return isinstance(data, list) and len(data) == 100


DB_TITLES = {"sqlite": "SQLite", "pg": "PostgreSQL"}


def request_figures(bench: Bench, name: str, config: str, server: str, db: str) -> list[Figure]:
    """The three figures of one request row, with issue 14's targets where it sets some."""
    label = f"{name} {config} ({server}, {DB_TITLES[db]})"
    key = f"{name}.{config}.{server}" + ("" if db == "sqlite" else f".{db}")
    rps = bench.figure(name, f"{key}.rps", f"{label}: throughput", "req/s", "higher")
    p50 = bench.figure(name, f"{key}.p50", f"{label}: p50 latency", "ms", "lower")
    p99 = bench.figure(name, f"{key}.p99", f"{label}: p99 latency", "ms", "lower")
    if server != "uvicorn" or rps.targets:
        return [rps, p50, p99]
    if name == "retrieve" and config in {"1x64", "50x8"}:
        if db == "sqlite":
            rps.target = Target("ref", ">=", 4.0, "ours/ref >= 4")
            p99.target = Target("ref", "<=", 0.3, "ours/ref <= 0.3")
        else:
            rps.target = Target("ref", ">=", 2.5, "ours/ref >= 2.5")
            rps.also.append(Target("loop1", ">=", 1.2, "ours/loop1 >= 1.2"))
            p99.target = Target("ref", "<=", 0.4, "ours/ref <= 0.4")
    elif name == "retrieve" and config == "1x1":
        p50.target = Target("ref", "<=", 0.5, "ours/ref <= 0.5")
    elif name == "list":
        rps.target = Target("ref", ">=", 3.0, "ours/ref >= 3")
    return [rps, p50, p99]


def orm_loop_once(bench: Bench, db: str, kinds: set[str]) -> dict[str, Any]:
    """One run of :mod:`benchmarks.orm_loop` on the server's core and database."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
        env = dict(os.environ)
        env.update(
            PYTHONPATH=str(ROOT),
            DJANGO_SETTINGS_MODULE="benchmarks.project.settings",
            BENCH_STACK="none",
        )
        env.pop("BENCH_PG_NAME", None)
        if db == "pg":
            env["BENCH_PG_NAME"] = bench.pg_name
        else:
            copy = Path(tmp) / "db.sqlite3"
            shutil.copyfile(bench.db, copy)
            env["BENCH_DB"] = str(copy)
        command = [
            sys.executable,
            "-m",
            "benchmarks.orm_loop",
            "--duration",
            str(bench.sizes.duration),
            "--threads",
            f"1,{bench.loop_threads}",
            "--kinds",
            ",".join(sorted(kinds)),
        ]
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        pin(process.pid, bench.server_cpus)
        try:
            out, err = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        if process.returncode != 0:
            raise RuntimeError(f"orm_loop failed:\n{err[-2000:]}")
        return dict(json.loads(out))


def measure_orm_loop(
    bench: Bench, db: str, plan: list[tuple[str, int, int]], server_kind: str
) -> None:
    """The ORM limit of every request row of ``plan``, one subprocess for all of them."""
    kinds = {workload for workload, _, _ in plan}
    began = time.monotonic()
    try:
        result = orm_loop_once(bench, db, kinds)
    except Exception as exc:
        bench.failed(f"ORM loop ({DB_TITLES[db]})", exc)
        return
    took = time.monotonic() - began
    for workload, sockets, in_flight in plan:
        rps, p50, p99 = request_figures(bench, workload, f"{sockets}x{in_flight}", server_kind, db)
        for stack, threads in (("loop1", "1"), ("loopN", str(bench.loop_threads))):
            stats = result[workload][threads]
            rps.add(stack, stats["rps"])
            p50.add(stack, stats["p50_ms"])
            p99.add(stack, stats["p99_ms"])
    for workload in sorted(kinds):
        one, many = result[workload]["1"], result[workload][str(bench.loop_threads)]
        bench.log(
            f"  {workload} ORM loop: {one['rps']:9,.0f}/s on 1 thread (p50 {one['p50_ms']:.2f} ms),"
            f" {many['rps']:9,.0f}/s on {bench.loop_threads}"
        )
    bench.log(f"  (ORM loop process: {took:.1f} s)")


def measure_requests(
    bench: Bench, server: Server, workload: str, sockets: int, in_flight: int, figures: list[Figure]
) -> None:
    stream, payload, check = (
        ("books", _retrieve_payload, None)
        if workload == "retrieve"
        else ("library", _list_payload, _list_check)
    )
    began = time.monotonic()
    try:
        stats = loadgen.run(
            loadgen.run_requests(
                server.url,
                stream,
                payload,
                sockets=sockets,
                in_flight=in_flight,
                duration=bench.sizes.duration,
                warmup_seconds=bench.sizes.warmup_seconds,
                max_requests=bench.sizes.max_requests,
                expect_status=None if server.stack == "limit" else 200,
                check=check,
            )
        )
    except Exception as exc:
        bench.failed(f"{workload} {sockets}x{in_flight} on {server.label}", exc, server)
        return
    if stats.errors:
        bench.notes.append(
            f"{workload} {sockets}x{in_flight} on {server.label}: {stats.errors} error replies"
        )
    rps, p50, p99 = figures
    rps.add(server.stack, stats.rps)
    p50.add(server.stack, stats.p50_ms)
    p99.add(server.stack, stats.p99_ms)
    bench.log(
        f"  {workload} {sockets}x{in_flight} {server.stack:5}: {stats.rps:9,.0f} req/s "
        f"p50 {stats.p50_ms:7.2f} ms p99 {stats.p99_ms:7.2f} ms ({stats.completed} ok; "
        f"{time.monotonic() - began:.1f} s with connect, warm-up and drain)"
    )


def run_requests(
    bench: Bench, workloads: set[str], server_kind: str = "uvicorn", db: str = "sqlite"
) -> None:
    """Workloads 1 and 2 on one server per stack; with daphne only retrieve 1x64.

    ``db``: ``sqlite`` (a copy of the seeded file per server) or ``pg`` (the
    run's PostgreSQL database, shared: these workloads only read). After the
    servers, each round runs the ORM loop on the same database.
    """
    sizes = bench.sizes
    plan: list[tuple[str, int, int]] = []
    if "retrieve" in workloads:
        configs = sizes.retrieve_configs if server_kind == "uvicorn" else ((1, 64),)
        plan += [("retrieve", s, f) for s, f in configs]
    if "list" in workloads and server_kind == "uvicorn":
        plan += [("list", s, f) for s, f in sizes.list_configs]
    if not plan:
        return
    bench.log(
        f"request/response on {server_kind}, {DB_TITLES[db]}: "
        + ", ".join(f"{w} {s}x{f}" for w, s, f in plan)
    )
    servers = {stack: bench.server(stack, server=server_kind, db=db) for stack in bench.stacks}
    with started(servers):
        for round_index in range(sizes.rounds):
            bench.log(f" round {round_index + 1}/{sizes.rounds}")
            for workload, sockets, in_flight in plan:
                config = f"{sockets}x{in_flight}"
                figures = request_figures(bench, workload, config, server_kind, db)
                for stack in rotated(list(servers), round_index):
                    measure_requests(bench, servers[stack], workload, sockets, in_flight, figures)
            if server_kind == "uvicorn" and bench.loop_threads:
                measure_orm_loop(bench, db, plan, server_kind)


def _fanout_figures(bench: Bench, layer: str, size: int) -> list[Figure]:
    label = f"fan-out to {size:,} ({layer} layer)"
    key = f"fanout.{layer}.{size}"
    figures = [
        bench.figure("fanout", f"{key}.p50", f"{label}: p50 delay", "ms", "lower"),
        bench.figure("fanout", f"{key}.p99", f"{label}: p99 delay", "ms", "lower"),
        bench.figure("fanout", f"{key}.max", f"{label}: time to last", "ms", "lower"),
    ]
    if size >= 1000:
        figures[2].target = Target("ref", "<=", 0.05, "ours/ref <= 0.05")
    if layer == "redis":
        figures[0].note = figures[1].note = figures[2].note = ""
    return figures


def measure_fanout(bench: Bench, server: Server, layer: str, size: int, pk: int) -> None:
    figures = _fanout_figures(bench, layer, size)
    try:
        rounds = loadgen.run(
            loadgen.run_fanout(
                server.url,
                subscribers=size,
                rounds=bench.sizes.rounds,
                pk=pk,
                expect_status=None if server.stack == "limit" else 201,
            )
        )
    except Exception as exc:
        bench.failed(f"fan-out {size} on {server.label}", exc, server)
        return
    for result in rounds:
        if result.received != size:
            bench.notes.append(
                f"fan-out {size} on {server.label}: only {result.received} of {size} "
                "subscribers got the update within 30 s"
            )
            continue
        figures[0].add(server.stack, result.p50_ms)
        figures[1].add(server.stack, result.p99_ms)
        figures[2].add(server.stack, result.max_ms)
    last = rounds[-1]
    bench.log(
        f"  fan-out {size} {layer} {server.stack:5}: p50 {last.p50_ms:8.1f} ms "
        f"p99 {last.p99_ms:8.1f} ms max {last.max_ms:8.1f} ms ({last.received}/{size})"
    )


def _redis_available() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def _redis_cleanup(prefix: str) -> None:
    try:
        import redis
    except ImportError:
        return
    with contextlib.suppress(Exception):
        client = redis.Redis(host="127.0.0.1", port=6379)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def run_fanout(bench: Bench) -> None:
    """Workload 3: in-memory layer (plus the bare broadcast limit), then channels_redis."""
    sizes = bench.sizes
    bench.log(f"fan-out to {', '.join(map(str, sizes.fanout))} subscribers (in-memory layer)")
    servers = {stack: bench.server(stack) for stack in bench.stacks}
    with started(servers):
        for index, size in enumerate(sizes.fanout):
            for stack in rotated(list(servers), index):
                measure_fanout(bench, servers[stack], "memory", size, pk=index + 1)
    if not bench.redis:
        return
    if not _redis_available():
        bench.notes.append("fan-out with channels_redis skipped: no Redis at 127.0.0.1:6379")
        return
    layered = [s for s in bench.stacks if s != "limit"]
    if not layered:
        return
    bench.log("fan-out (channels_redis layer)")
    prefix = f"bench-{uuid.uuid4().hex[:12]}-"
    servers = {
        stack: bench.server(stack, layer="redis", redis_prefix=f"{prefix}{stack}")
        for stack in layered
    }
    try:
        with started(servers):
            for index, size in enumerate(sizes.fanout):
                for stack in rotated(list(servers), index):
                    measure_fanout(bench, servers[stack], "redis", size, pk=index + 1)
    finally:
        _redis_cleanup(prefix)
    # The bare broadcast has no channel layer: the same limit applies to both rows.
    for size in sizes.fanout:
        memory_rows = {
            f.key: f for f in bench.figures if f.key.startswith(f"fanout.memory.{size}.")
        }
        for stat in ("p50", "p99", "max"):
            source = memory_rows.get(f"fanout.memory.{size}.{stat}")
            target = next(
                (f for f in bench.figures if f.key == f"fanout.redis.{size}.{stat}"), None
            )
            if source is not None and target is not None and "limit" in source.rounds:
                target.rounds["limit"] = list(source.rounds["limit"])
                target.note = "limit: bare broadcast, no layer"


def run_cluster(bench: Bench) -> None:
    """Many processes: ``uvicorn --workers N`` on one Redis, idle subscribers spread over them.

    For each size and stack a fresh server (N worker processes, not pinned:
    they share both cores with the load generator) and a fresh Redis key
    prefix; the subscribers connect and ``subscribe_instance`` one book within
    the time budget, then each round one ``patch`` is fanned out to all of them.
    A stack that cannot set up every subscriber, or whose pushes do not all
    arrive within 30 s, gets a note saying how far it got instead of a figure.
    """
    sizes = bench.sizes
    if not bench.redis:
        return
    if not _redis_available():
        bench.notes.append("many-process fan-out skipped: no Redis at 127.0.0.1:6379")
        return
    # The limit is the bare broadcast in one process (it has no layer, so it
    # cannot fan out across processes): what the load generator and one
    # server need to write and read that many pushes on this machine.
    stacks = [s for s in bench.stacks if s in {"ours", "ref", "limit"}]
    workers = sizes.cluster_workers
    gave_up: dict[str, int] = {}  # stack -> the size it could not set up
    for index, size in enumerate(sizes.cluster_subscribers):
        bench.log(f"many processes: {workers} uvicorn workers, Redis, {size:,} subscribers")
        label = f"{workers} processes on Redis, {size:,} idle subscribers, one write"
        key = f"cluster.{workers}.{size}"
        p50 = bench.figure("cluster", f"{key}.p50", f"{label}: p50 delay", "ms", "lower")
        last = bench.figure("cluster", f"{key}.max", f"{label}: time to last", "ms", "lower")
        rate = bench.figure(
            "cluster", f"{key}.setup", f"{label}: connect + subscribe rate", "conn/s", "higher"
        )
        for figure in (p50, last):
            figure.note = "limit: bare broadcast, one process, no layer"
        if size >= 10_000:
            last.target = Target("value", "<=", 1000.0, "ours <= 1 s")
            last.also.append(Target("ref", "<=", 0.05, "ours/ref <= 0.05"))
        for stack in rotated(stacks, index):
            if stack in gave_up:
                bench.notes.append(
                    f"many-process fan-out to {size:,}, {stack}: not run, it could not set up "
                    f"{gave_up[stack]:,} subscribers"
                )
                continue
            prefix = f"bench-{uuid.uuid4().hex[:12]}-"
            if stack == "limit":
                server = bench.server(stack, workers=1, cpus=None)
            else:
                server = bench.server(
                    stack, layer="redis", redis_prefix=prefix, workers=workers, cpus=None
                )
            try:
                with server:
                    # Every worker imports Django after the socket is bound: wait
                    # until they all answer, so set-up time is not boot time.
                    loadgen.run(loadgen.warm_up(server.url, 4 * workers))
                    result = loadgen.run(
                        loadgen.run_cluster_fanout(
                            server.url,
                            subscribers=size,
                            rounds=sizes.cluster_rounds,
                            pk=index + 1,
                            budget=sizes.cluster_budget,
                            expect_status=None if stack == "limit" else 201,
                        )
                    )
            except Exception as exc:
                bench.failed(f"many-process fan-out {size} on {server.label}", exc, server)
                continue
            finally:
                _redis_cleanup(prefix)
            if result.setup_seconds > 0 and result.subscribed:
                rate.add(stack, result.subscribed / result.setup_seconds)
            problems = []
            if result.failure:
                gave_up[stack] = size
                problems.append(
                    f"set-up: {result.subscribed:,} of {size:,} subscribed in "
                    f"{result.setup_seconds:.1f} s ({result.failure})"
                )
            for round_ in result.rounds:
                if round_.received != round_.subscribers:
                    problems.append(
                        f"a write reached {round_.received:,} of {round_.subscribers:,} "
                        "subscribers within 30 s"
                    )
                elif round_.subscribers == size:
                    p50.add(stack, round_.p50_ms)
                    last.add(stack, round_.max_ms)
                else:
                    problems.append(
                        f"a write reached all {round_.received:,} subscribers, the last after "
                        f"{round_.max_ms:,.0f} ms (not counted as a figure)"
                    )
            if problems:
                bench.notes.append(
                    f"many-process fan-out to {size:,}, {stack}: " + "; ".join(problems)
                )
            times = ", ".join(f"{r.max_ms:,.0f}" for r in result.rounds) or "-"
            bench.log(
                f"  {stack:5}: {result.subscribed:,}/{size:,} subscribed in "
                f"{result.setup_seconds:.1f} s; time to last per write: {times} ms"
                + (f"; {result.failure}" if result.failure else "")
            )


def run_memory(bench: Bench) -> None:
    """Workload 4: a fresh server per stack, stream count and round.

    With 10 or more streams our stack is measured twice: through ``Gateway``
    (streams start on their first frame) and through the compat
    ``AsyncJsonWebsocketDemultiplexer`` (every stream starts on connect, as
    channelsmultiplexer does); the reference's rounds are shared by both rows.
    """
    sizes = bench.sizes
    n = sizes.memory_connections
    plan = [(streams, "gateway") for streams in sizes.memory_streams]
    plan += [(streams, "compat") for streams in sizes.memory_streams if streams >= 10]
    for streams, mux in plan:
        compat = mux == "compat"
        bench.log(f"memory: {n:,} idle connections, {streams} streams mounted ({mux})")
        label = f"{n:,} idle connections, {streams} streams"
        key = f"memory.{streams}"
        if compat:
            label += " (ours: compat AsyncJsonWebsocketDemultiplexer)"
            key += ".compat"
        per_conn = bench.figure(
            "memory", f"{key}.per_conn", f"{label}: RSS per connection", "KiB", "lower"
        )
        rate = bench.figure("memory", f"{key}.rate", f"{label}: connect rate", "conn/s", "higher")
        held = bench.figure(
            "memory",
            f"{key}.held",
            f"{label}: RSS still held per connection after close",
            "KiB",
            "lower",
        )
        back = bench.figure(
            "memory", f"{key}.after_over_before", f"{label}: RSS after close / before", "x", "lower"
        )
        regrowth = bench.figure(
            "memory",
            f"{key}.regrowth",
            f"{label}: RSS added per connection by a second wave (0 = held memory is reused)",
            "KiB",
            "lower",
        )
        if compat:
            per_conn.target = Target("ref", "<=", 0.5, "ours/ref <= 0.5")
        elif streams >= 10:
            per_conn.target = Target("value", "<=", 25.0, "ours <= 25 KiB")
            back.target = Target("value", "<=", 1.15, "ours <= 1.15")
        short: dict[str, list[int]] = {}
        for round_index in range(sizes.memory_rounds):
            for stack in rotated(bench.stacks, round_index):
                if stack == "limit" and streams != sizes.memory_streams[0]:
                    continue  # the bare app mounts no streams: measured once
                if stack in short:
                    # It could not open every connection in the budget: another
                    # round costs two full budgets (40 s) for the same shortfall.
                    continue
                if compat and stack != "ours":
                    continue  # the same reference and limit as the Gateway row
                extra_env = {"BENCH_MUX": "compat"} if compat else {}
                server = bench.server(stack, streams=streams, extra_env=extra_env)
                try:
                    with server:
                        result = loadgen.run(
                            loadgen.run_memory(
                                server.url,
                                server.rss_kib,
                                connections=n,
                                budget=sizes.memory_budget,
                                is_alive=server.alive,
                            )
                        )
                except Exception as exc:
                    bench.failed(f"memory {streams} streams on {server.label}", exc, server)
                    continue
                per_conn.add(stack, result.per_connection_kib)
                rate.add(stack, result.connect_rate)
                held.add(stack, result.held_per_connection_kib)
                back.add(stack, result.after_over_before)
                regrowth.add(stack, result.regrowth_per_connection_kib)
                if result.connections < n:
                    short.setdefault(stack, []).append(result.connections)
                bench.log(
                    f"  {stack:5}: {result.per_connection_kib:6.1f} KiB/conn, "
                    f"{result.connect_rate:6,.0f} conn/s, before {result.rss_before_kib:,} KiB, "
                    f"open {result.rss_open_kib:,} KiB, after {result.rss_after_kib:,} KiB, "
                    f"second wave {result.rss_second_open_kib:,} KiB ({result.connections:,} conns)"
                )
        for stack, counts in short.items():
            bench.notes.append(
                f"memory, {streams} streams, {stack}: only {', '.join(f'{c:,}' for c in counts)} "
                f"of {n:,} connections opened within the {sizes.memory_budget:.0f} s budget "
                "(per-connection figures divide by the number opened; the connect rate is "
                "over that many); measured in that round only, not again"
            )
    # The limit mounts no streams; reuse its single measurement for every stream count.
    # The compat rows share the reference's rounds of the same stream count.
    first = sizes.memory_streams[0]
    copies = [(f"memory.{first}", f"memory.{streams}", "limit") for streams in sizes.memory_streams]
    copies += [(f"memory.{s}", f"memory.{s}.compat", "ref") for s, mux in plan if mux == "compat"]
    copies += [(f"memory.{s}", f"memory.{s}.compat", "limit") for s, mux in plan if mux == "compat"]
    for source_key, target_key, stack in copies:
        if source_key == target_key:
            continue
        for suffix in ("per_conn", "rate", "held", "after_over_before", "regrowth"):
            source = next((f for f in bench.figures if f.key == f"{source_key}.{suffix}"), None)
            target = next((f for f in bench.figures if f.key == f"{target_key}.{suffix}"), None)
            if source is not None and target is not None and stack in source.rounds:
                target.rounds[stack] = list(source.rounds[stack])


def zero_sub_once(
    python: str,
    stack: str,
    db: Path,
    observers: bool,
    count: int,
    rounds: int,
    cpus: set[int] | None = None,
) -> dict[str, list[float]]:
    """Run ``benchmarks.zero_sub`` in ``python`` on a private copy of ``db``."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-zero-") as tmp:
        copy = Path(tmp) / "db.sqlite3"
        shutil.copyfile(db, copy)
        env = dict(os.environ)
        env.update(
            PYTHONPATH=str(ROOT),
            DJANGO_SETTINGS_MODULE="benchmarks.project.settings",
            BENCH_STACK=stack if observers else "none",
            BENCH_DB=str(copy),
            BENCH_LAYER="memory",
        )
        command = [
            python,
            "-m",
            "benchmarks.zero_sub",
            "--observers",
            "on" if observers else "off",
            "--count",
            str(count),
            "--rounds",
            str(rounds),
        ]
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        pin(process.pid, cpus)
        try:
            out, err = process.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        if process.returncode != 0:
            raise RuntimeError(f"zero_sub ({stack}, observers={observers}) failed:\n{err[-2000:]}")
        return json.loads(out)


def run_zero_sub(bench: Bench) -> None:
    """Workload 5: in-process ORM loads with observers registered vs none at all."""
    sizes = bench.sizes
    n = sizes.zero_count
    bench.log(f"zero-subscriber overhead: {n:,} instances, observers registered vs none")
    figures = {
        kind: bench.figure(
            "zero_sub",
            f"zero_sub.{kind}",
            f"{verb} {n:,} observed instances, nobody subscribed (limit: no observers)",
            "s",
            "lower",
            target=Target("limit", "<=", 1.10, "ours/limit <= 1.10") if kind == "write" else None,
        )
        for kind, verb in (("read", "read"), ("write", "create"))
    }
    runs = [(stack, True) for stack in bench.stacks if stack != "limit"]
    runs.append(("limit", False))
    # One process per stack and round, the stacks taking turns: on a loaded
    # machine, drift then hits both sides of the ratio alike.
    for round_index in range(sizes.rounds):
        for stack, observers in runs[round_index % len(runs) :] + runs[: round_index % len(runs)]:
            python = bench.pythons.get("ours" if stack == "limit" else stack)
            if python is None:
                python = sys.executable
            try:
                times = zero_sub_once(
                    python,
                    "none" if stack == "limit" else stack,
                    bench.db,
                    observers,
                    n,
                    1,
                    bench.server_cpus,
                )
            except Exception as exc:
                bench.failed(f"zero-subscriber load ({stack})", exc)
                continue
            for kind in ("read", "write"):
                figures[kind].add(stack, min(times[kind]))
            bench.log(
                f"  {stack:5}: read {min(times['read']):.3f} s (best of {len(times['read'])}), "
                f"write {min(times['write']):.3f} s"
            )
