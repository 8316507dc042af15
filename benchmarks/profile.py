"""Profile OUR server under a workload: ``python -m benchmarks.profile retrieve|list|fanout``.

Starts ``benchmarks.project.ours`` under uvicorn exactly as the benchmark does,
attaches ``py-spy`` (``pip install -e .[bench]``; it samples every thread, so
the database thread that runs sync actions is seen too) while the same load
generator drives it (retrieve: one socket, 64 in flight; list: one socket, 8
in flight; fanout: 1,000
subscribers, a few writes), then prints where the samples fell: by package,
by function inclusive of callees (our packages only), and by function self time.
The raw collapsed stacks stay in ``benchmarks/results/`` for flame graphs.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import loadgen
from benchmarks.cli import RESULTS, seed_database
from benchmarks.servers import Server, cpu_plan, pin

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
OURS = ("gateway/", "streams/", "hypermedia/", "benchmarks/")
PACKAGES = [
    "gateway",
    "streams",
    "hypermedia",
    "rest_framework",
    "channels_redis",
    "channels",
    "asgiref",
    "django",
    "uvicorn",
    "websockets",
    "asyncio",
    "concurrent",
    "json",
    "sqlite3",
    "redis",
    "msgpack",
    "threading",
]


def _retrieve(i: int) -> dict[str, object]:
    return {"action": "retrieve", "pk": i % 100 + 1, "request_id": i}


def _list(i: int) -> dict[str, object]:
    return {"action": "list", "request_id": i}


def package_of(path: str) -> str:
    parts = path.replace("\\", "/").split("/")
    for name in parts[:-1][::-1]:
        if name in PACKAGES:
            return name
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    return parts[-1]


# Leaf frames where a thread waits rather than works: the event loop sitting in
# epoll (uvloop runs in C under Runner.run) and executor threads waiting for work.
IDLE_LEAVES = {
    ("Runner.run", "asyncio/runners.py"),
    ("_worker", "concurrent/futures/thread.py"),
    ("wait", "threading.py"),
}


def _is_idle(func: str, file: str) -> bool:
    return any(func == f and file.endswith(suffix) for f, suffix in IDLE_LEAVES)


def summarise(raw: Path, top: int = 25) -> str:
    """Text summary of py-spy's collapsed (``--format raw``) stacks, idle samples apart."""
    total = 0
    idle = 0
    inclusive: collections.Counter[str] = collections.Counter()
    self_time: collections.Counter[str] = collections.Counter()
    leaf_package: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = []
        for frame in stack.split(";"):
            match = FRAME.match(frame)
            if match is None:
                continue
            frames.append((match["func"], match["file"]))
        if not frames:
            continue
        if _is_idle(*frames[-1]):
            idle += count
            total -= count
            continue
        seen: set[str] = set()
        for func, file in frames:
            if any(marker in file for marker in OURS):
                name = f"{file.split('site-packages/')[-1]}:{func}"
                if name not in seen:
                    seen.add(name)
                    inclusive[name] += count
        func, file = frames[-1]
        self_time[f"{file.split('site-packages/')[-1]}:{func}"] += count
        leaf_package[package_of(file)] += count
    if not total:
        return "no samples"

    def pct(n: int) -> str:
        return f"{100 * n / total:5.1f}%"

    out = [
        f"{total} busy samples ({idle} more idle: event loop in epoll / C code, "
        "executor threads waiting; left out below)",
        "",
        "self time by package:",
    ]
    out += [f"  {pct(n)}  {name}" for name, n in leaf_package.most_common(top)]
    out += ["", "inclusive time, our code:"]
    out += [f"  {pct(n)}  {name}" for name, n in inclusive.most_common(top)]
    out += ["", "self time by function:"]
    out += [f"  {pct(n)}  {name}" for name, n in self_time.most_common(top)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("workload", choices=["retrieve", "list", "fanout"])
    parser.add_argument("--seconds", type=float, default=8.0, help="retrieve: how long")
    parser.add_argument("--subscribers", type=int, default=1000, help="fanout: how many")
    parser.add_argument("--writes", type=int, default=5, help="fanout: how many writes")
    parser.add_argument("--layer", choices=["memory", "redis"], default="memory")
    parser.add_argument(
        "--all-threads",
        action="store_true",
        help="sample every thread, not only the one holding the GIL (shows waits too)",
    )
    args = parser.parse_args(argv)

    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        print("py-spy is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    raw = RESULTS / f"profile-{args.workload}-{args.layer}.collapsed"
    server_cpus, loadgen_cpus = cpu_plan()
    pin(0, loadgen_cpus)
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        db = seed_database(Path(tmp))
        server = Server(
            "ours",
            sys.executable,
            db,
            layer=args.layer,
            redis_prefix="bench-profile-",
            cpus=server_cpus,
        )
        with server:
            if args.workload in {"retrieve", "list"}:
                stream, payload, in_flight = (
                    ("books", _retrieve, 64)
                    if args.workload == "retrieve"
                    else ("library", _list, 8)
                )
                # Warm up first so imports and lazy set-up are not in the profile.
                loadgen.run(loadgen.run_requests(server.url, stream, payload, duration=0.5))
                spy = _start_spy(py_spy, server.pid, raw, not args.all_threads)
                stats = loadgen.run(
                    loadgen.run_requests(
                        server.url, stream, payload, in_flight=in_flight, duration=args.seconds
                    )
                )
                print(f"{stats.rps:,.0f} req/s under the profiler, p99 {stats.p99_ms:.1f} ms")
            else:
                loadgen.run(loadgen.run_fanout(server.url, subscribers=10, rounds=1))
                spies: list[subprocess.Popen[bytes]] = []
                rounds = loadgen.run(
                    loadgen.run_fanout(
                        server.url,
                        subscribers=args.subscribers,
                        rounds=args.writes,
                        on_subscribed=lambda: spies.append(
                            _start_spy(py_spy, server.pid, raw, not args.all_threads)
                        ),
                    )
                )
                spy = spies[0]
                print("time to last (ms):", ", ".join(f"{r.max_ms:.0f}" for r in rounds))
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
    print(summarise(raw))
    print(f"\ncollapsed stacks: {raw}")
    return 0


def _start_spy(py_spy: str, pid: int, raw: Path, gil: bool = True) -> subprocess.Popen[bytes]:
    # --gil: only the thread holding the GIL is sampled, i.e. where Python time
    # goes; without it, threads waiting for the GIL show up where they wait.
    command = [py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "250"]
    command += ["--output", str(raw), "--nonblocking", *(["--gil"] if gil else [])]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # let py-spy attach before the load starts
    return process


if __name__ == "__main__":
    sys.exit(main())
