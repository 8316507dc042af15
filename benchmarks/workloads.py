"""The five workloads of issue 7, run against every available stack.

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
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import loadgen
from benchmarks.report import Figure, Target
from benchmarks.servers import ROOT, Server, pin

WORKLOADS = ("retrieve", "list", "fanout", "memory", "zero_sub")


@dataclass
class Sizes:
    rounds: int = 3
    duration: float = 2.0  # seconds per request/response measurement
    max_requests: int = 200_000
    fanout: tuple[int, ...] = (100, 1000)
    memory_connections: int = 1000
    memory_rounds: int = 3
    memory_streams: tuple[int, ...] = (2, 10)
    memory_budget: float = 20.0  # seconds per connect phase
    zero_count: int = 10_000
    retrieve_configs: tuple[tuple[int, int], ...] = ((1, 1), (1, 64), (50, 8))
    list_configs: tuple[tuple[int, int], ...] = ((1, 8),)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            rounds=3,
            duration=0.5,
            fanout=(100,),
            memory_connections=200,
            memory_rounds=1,
            zero_count=2000,
        )

    @classmethod
    def tiny(cls) -> Sizes:
        """For the smoke test: each workload runs, nothing is measured seriously."""
        return cls(
            rounds=1,
            duration=0.2,
            max_requests=100,
            fanout=(5,),
            memory_connections=20,
            memory_rounds=1,
            memory_streams=(2,),
            zero_count=200,
            retrieve_configs=((1, 1), (2, 4)),
            list_configs=((1, 2),),
        )


@dataclass
class Bench:
    pythons: dict[str, str]  # stack -> interpreter, only for stacks that can run
    db: Path
    sizes: Sizes
    server_cpus: set[int] | None = None
    redis: bool = True
    daphne: bool = True
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr, flush=True)

    @property
    def stacks(self) -> list[str]:
        return [s for s in ("ours", "ref", "limit") if s in self.pythons]

    def server(self, stack: str, **kwargs: Any) -> Server:
        return Server(
            stack=stack,
            python=self.pythons[stack],
            db_template=None if stack == "limit" else self.db,
            cpus=self.server_cpus,
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


def request_figures(
    bench: Bench, name: str, config: str, server: str, targets: bool
) -> list[Figure]:
    label = f"{name} {config} ({server})"
    key = f"{name}.{config}.{server}"
    rps = bench.figure(name, f"{key}.rps", f"{label}: throughput", "req/s", "higher")
    p50 = bench.figure(name, f"{key}.p50", f"{label}: p50 latency", "ms", "lower")
    p99 = bench.figure(name, f"{key}.p99", f"{label}: p99 latency", "ms", "lower")
    if targets:
        rps.target = Target("ref", ">=", 3.0, "ours/ref >= 3")
        p99.target = Target("ref", "<=", 0.33, "ours/ref <= 0.33")
    return [rps, p50, p99]


def measure_requests(
    bench: Bench, server: Server, workload: str, sockets: int, in_flight: int, figures: list[Figure]
) -> None:
    stream, payload, check = (
        ("books", _retrieve_payload, None)
        if workload == "retrieve"
        else ("library", _list_payload, _list_check)
    )
    try:
        stats = loadgen.run(
            loadgen.run_requests(
                server.url,
                stream,
                payload,
                sockets=sockets,
                in_flight=in_flight,
                duration=bench.sizes.duration,
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
        f"p50 {stats.p50_ms:7.2f} ms p99 {stats.p99_ms:7.2f} ms ({stats.completed} ok)"
    )


def run_requests(bench: Bench, workloads: set[str], server_kind: str = "uvicorn") -> None:
    """Workloads 1 and 2 on one server per stack; with daphne only retrieve 1x64."""
    sizes = bench.sizes
    plan: list[tuple[str, int, int]] = []
    if "retrieve" in workloads:
        configs = sizes.retrieve_configs if server_kind == "uvicorn" else ((1, 64),)
        plan += [("retrieve", s, f) for s, f in configs]
    if "list" in workloads and server_kind == "uvicorn":
        plan += [("list", s, f) for s, f in sizes.list_configs]
    if not plan:
        return
    bench.log(f"request/response on {server_kind}: {', '.join(f'{w} {s}x{f}' for w, s, f in plan)}")
    servers = {stack: bench.server(stack, server=server_kind) for stack in bench.stacks}
    with started(servers):
        for round_index in range(sizes.rounds):
            bench.log(f" round {round_index + 1}/{sizes.rounds}")
            for workload, sockets, in_flight in plan:
                config = f"{sockets}x{in_flight}"
                targets = workload == "retrieve" and config == "1x64" and server_kind == "uvicorn"
                figures = request_figures(bench, workload, config, server_kind, targets)
                for stack in rotated(list(servers), round_index):
                    measure_requests(bench, servers[stack], workload, sockets, in_flight, figures)


def _fanout_figures(bench: Bench, layer: str, size: int) -> list[Figure]:
    label = f"fan-out to {size:,} ({layer} layer)"
    key = f"fanout.{layer}.{size}"
    figures = [
        bench.figure("fanout", f"{key}.p50", f"{label}: p50 delay", "ms", "lower"),
        bench.figure("fanout", f"{key}.p99", f"{label}: p99 delay", "ms", "lower"),
        bench.figure("fanout", f"{key}.max", f"{label}: time to last", "ms", "lower"),
    ]
    if size >= 1000:
        figures[2].target = Target("ref", "<=", 0.1, "ours/ref <= 0.1")
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


def run_memory(bench: Bench) -> None:
    """Workload 4: a fresh server per stack, stream count and round."""
    sizes = bench.sizes
    n = sizes.memory_connections
    for streams in sizes.memory_streams:
        bench.log(f"memory: {n:,} idle connections, {streams} streams mounted")
        label = f"{n:,} idle connections, {streams} streams"
        key = f"memory.{streams}"
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
        if streams >= 10:
            per_conn.target = Target("ref", "<=", 0.25, "ours/ref <= 0.25")
            back.target = Target("value", "<=", 1.10, "ours <= 1.10")
        short: dict[str, list[int]] = {}
        for round_index in range(sizes.memory_rounds):
            for stack in rotated(bench.stacks, round_index):
                if stack == "limit" and streams != sizes.memory_streams[0]:
                    continue  # the bare app mounts no streams: measured once
                server = bench.server(stack, streams=streams)
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
                "over that many)"
            )
    # The limit mounts no streams; reuse its single measurement for every stream count.
    first = sizes.memory_streams[0]
    for streams in sizes.memory_streams[1:]:
        for suffix in ("per_conn", "rate", "held", "after_over_before", "regrowth"):
            source = next((f for f in bench.figures if f.key == f"memory.{first}.{suffix}"), None)
            target = next((f for f in bench.figures if f.key == f"memory.{streams}.{suffix}"), None)
            if source is not None and target is not None and "limit" in source.rounds:
                target.rounds["limit"] = list(source.rounds["limit"])


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
            target=Target("limit", "<=", 1.10, "ours/limit <= 1.10"),
        )
        for kind, verb in (("read", "read"), ("write", "create"))
    }
    runs = [(stack, True) for stack in bench.stacks if stack != "limit"]
    runs.append(("limit", False))
    for stack, observers in runs:
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
                sizes.rounds,
                bench.server_cpus,
            )
        except Exception as exc:
            bench.failed(f"zero-subscriber load ({stack})", exc)
            continue
        for kind in ("read", "write"):
            for value in times[kind]:
                figures[kind].add(stack, value)
        bench.log(
            f"  {stack:5}: read {min(times['read']):.3f} s, write {min(times['write']):.3f} s "
            f"(best of {len(times['read'])})"
        )
