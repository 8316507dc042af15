"""``python -m benchmarks``: build the reference venv, run the workloads, write the tables."""

from __future__ import annotations

import argparse
import atexit
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import pg, refenv, servers, workloads
from benchmarks.report import markdown_table
from benchmarks.servers import ROOT, check_python, cpu_plan

RESULTS = Path(__file__).resolve().parent / "results"

LIST_NOTE = (
    "List: ours returns hypermedia links (HypermediaModelSerializer); the reference returns "
    "a plain ModelSerializer with pks, because hypermediachannels pins DCRF 0.0.x and cannot "
    "be installed beside DCRF 1.3. The limit returns a canned 100-object reply."
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    parser.add_argument(
        "--only",
        action="append",
        choices=workloads.WORKLOADS,
        metavar="WORKLOAD",
        help=f"run only this workload (repeatable): {', '.join(workloads.WORKLOADS)}",
    )
    parser.add_argument(
        "--stacks",
        default="ours,ref,limit",
        help="comma-separated subset of ours,ref,limit (default: all)",
    )
    parser.add_argument("--rounds", type=int, help="rounds per figure (median taken; default 3)")
    parser.add_argument(
        "--daphne", action="store_true", help="also run retrieve 1x64 on daphne (about 30 s)"
    )
    parser.add_argument("--no-daphne", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--no-redis", action="store_true", help="skip channels_redis (fan-out, many processes)"
    )
    parser.add_argument(
        "--no-postgres", action="store_true", help="skip the PostgreSQL request rows"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where latest.md/json go")
    return parser.parse_args(argv)


def machine() -> dict[str, object]:
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        model = platform.processor()
    try:
        affinity = sorted(os.sched_getaffinity(0))
    except AttributeError:
        affinity = []
    return {
        "nproc": os.cpu_count(),
        "affinity": affinity,
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": os.getloadavg(),
    }


def raise_open_files_limit() -> None:
    """Let this process and its servers hold 10,000+ sockets (the many-process workload)."""
    try:
        import resource
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def seed_database(directory: Path, pg_name: str = "") -> Path:
    """Seed SQLite in ``directory`` (returned), and PostgreSQL's ``pg_name`` if given."""
    db = directory / "bench.sqlite3"
    env = dict(os.environ, PYTHONPATH=str(ROOT), BENCH_STACK="none")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("BENCH_PG_NAME", None)
    if pg_name:
        subprocess.run(
            [sys.executable, "-m", "benchmarks.project.seed", str(db) + ".unused"],
            cwd=ROOT,
            env=dict(env, BENCH_PG_NAME=pg_name),
            check=True,
            timeout=120,
        )
    subprocess.run(
        [sys.executable, "-m", "benchmarks.project.seed", str(db)],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    return db


def resolve_stacks(wanted: list[str], notes: list[str]) -> dict[str, str]:
    """Interpreter per runnable stack; a stack that cannot start is noted and left out."""
    pythons: dict[str, str] = {}
    if "limit" in wanted:
        pythons["limit"] = sys.executable
    if "ours" in wanted:
        error = check_python(sys.executable, "ours")
        if error is None:
            pythons["ours"] = sys.executable
        else:
            notes.append(f"ours not run: importing benchmarks.project.ours failed: {error}")
    if "ref" in wanted:
        python = str(refenv.ensure_reference_venv(log=log))
        error = check_python(python, "ref")
        if error is None:
            pythons["ref"] = python
        else:
            notes.append(f"reference not run: {error}")
    return pythons


def write_results(
    output: Path, bench: workloads.Bench, meta: dict[str, object], only: set[str]
) -> str:
    output.mkdir(parents=True, exist_ok=True)
    table = markdown_table(bench.figures)
    notes = list(bench.notes)
    if "list" in only:
        notes.insert(0, LIST_NOTE)
    versions = meta.get("versions", {})
    md = [
        f"# Benchmark results ({meta['generated']})",
        "",
        f"Command: `{meta['command']}`  ",
        f"Machine: {meta['machine']['nproc']} CPUs ({meta['machine']['cpu_model']}), "  # type: ignore[index]
        f"Python {meta['machine']['python']}, load average at start "  # type: ignore[index]
        f"{', '.join(f'{x:.2f}' for x in meta['machine']['loadavg_start'])}  ",  # type: ignore[index]
        f"Server: uvicorn {versions.get('uvicorn', '?')}, "  # type: ignore[union-attr]
        f"pinned to CPU {meta['server_cpus']}; load generator on CPU {meta['loadgen_cpus']}; "
        f"median of {bench.sizes.rounds} rounds; wall time {meta['seconds']:.0f} s",
        "",
        "Wall time per phase: "
        + (
            ", ".join(
                f"{name} {seconds:.0f} s"
                for name, seconds in meta.get("phase_seconds", {}).items()  # type: ignore[attr-defined]
            )
            or "-"
        ),
        "",
        table,
        "",
        "Ratios are ours/reference and ours/limit from the same run. Columns: `ours` = gateway + "
        "streams, `reference` = DCRF 1.3 behind channelsmultiplexer 0.0.3, `limit` = bare ASGI "
        "app (echo, canned list, broadcast) or, for the zero-subscriber rows, the same ORM "
        "load with no observers at all.",
        "",
    ]
    if notes:
        md += ["Notes:", "", *[f"- {note}" for note in notes], ""]
    text = "\n".join(md)
    (output / "latest.md").write_text(text)
    data = {**meta, "notes": notes, "figures": [f.as_json() for f in bench.figures]}
    (output / "latest.json").write_text(json.dumps(data, indent=2, default=str))
    return text


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    atexit.register(servers.stop_all)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    raise_open_files_limit()

    sizes = workloads.Sizes.quick() if args.quick else workloads.Sizes()
    if args.rounds:
        sizes.rounds = args.rounds
        sizes.memory_rounds = min(sizes.memory_rounds, args.rounds) if args.quick else args.rounds
    only = set(args.only or workloads.WORKLOADS)
    wanted = [s.strip() for s in args.stacks.split(",") if s.strip()]
    meta: dict[str, object] = {
        "generated": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(
            ["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]
        ),
        "machine": machine(),
        "sizes": sizes.__dict__,
    }
    server_cpus, loadgen_cpus = cpu_plan()
    if loadgen_cpus is not None:
        servers.pin(0, loadgen_cpus)
    meta["server_cpus"] = sorted(server_cpus) if server_cpus else "any"
    meta["loadgen_cpus"] = sorted(loadgen_cpus) if loadgen_cpus else "any"

    notes: list[str] = []
    pythons = resolve_stacks(wanted, notes)
    meta["versions"] = refenv.installed_versions(sys.executable)
    if "ref" in pythons:
        meta["reference_versions"] = refenv.installed_versions(pythons["ref"])
    for note in notes:
        log("! " + note)

    pg_name = ""
    if not args.no_postgres and only & {"retrieve", "list"}:
        reason = pg.available()
        if reason is None:
            pg_name = pg.create_database()
            atexit.register(pg.drop_database, pg_name)
        else:
            notes.append(f"PostgreSQL rows skipped: {reason}")
    meta["postgres_database"] = pg_name or None

    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        db = seed_database(Path(tmp), pg_name)
        bench = workloads.Bench(
            pg_name=pg_name,
            pythons=pythons,
            db=db,
            sizes=sizes,
            server_cpus=server_cpus,
            redis=not args.no_redis,
            daphne=args.daphne and not args.no_daphne,
            notes=notes,
            log=log,
        )
        phases: dict[str, float] = {}
        meta["phase_seconds"] = phases

        def timed(name: str, run: Callable[[], None]) -> None:
            # Where the wall time goes (issue 14: make bench within 15 minutes).
            begun = time.monotonic()
            try:
                run()
            finally:
                phases[name] = time.monotonic() - begun
                log(f"{name}: {phases[name]:.0f} s")

        try:
            if only & {"retrieve", "list"}:
                timed("requests, SQLite", lambda: workloads.run_requests(bench, only, "uvicorn"))
                if bench.daphne and "retrieve" in only:
                    timed(
                        "retrieve on daphne",
                        lambda: workloads.run_requests(bench, {"retrieve"}, "daphne"),
                    )
            if only & {"retrieve", "list"} and bench.pg_name:
                timed(
                    "requests, PostgreSQL",
                    lambda: workloads.run_requests(bench, only, "uvicorn", db="pg"),
                )
            if "fanout" in only:
                timed("fanout", lambda: workloads.run_fanout(bench))
            if "cluster" in only:
                timed("cluster", lambda: workloads.run_cluster(bench))
            if "memory" in only:
                timed("memory", lambda: workloads.run_memory(bench))
            if "zero_sub" in only:
                timed("zero_sub", lambda: workloads.run_zero_sub(bench))
        finally:
            servers.stop_all()
            if pg_name:
                pg.drop_database(pg_name)

    meta["seconds"] = time.monotonic() - started
    meta["machine"]["loadavg_end"] = os.getloadavg()  # type: ignore[index]
    text = write_results(args.output, bench, meta, only)
    print(text)
    log(f"wrote {args.output / 'latest.md'} and latest.json in {meta['seconds']:.0f} s")
    return 0
