"""Smoke run of every benchmark workload at tiny size, against our stack and the limit.

Goes through the harness's own functions (``benchmarks.workloads``), so a
refactor that breaks ``make bench`` fails here. The reference stack is left
out: building its virtualenv costs a minute. Each test starts real uvicorn
subprocesses on loopback and checks the numbers are sane (positive, complete
counts), not fast.
"""

from __future__ import annotations

import functools
import math
import sys
from pathlib import Path

import pytest

from benchmarks import loadgen, pg, workloads
from benchmarks.cli import seed_database
from benchmarks.report import Figure
from benchmarks.servers import check_python
from tests.services import require_postgres, require_redis

pytestmark = pytest.mark.slow


@functools.cache
def ours_error() -> str | None:
    """Why benchmarks.project.ours cannot be imported, or None once our stack exists."""
    return check_python(sys.executable, "ours")


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_database(tmp_path_factory.mktemp("bench"))


@pytest.fixture
def bench(database: Path) -> workloads.Bench:
    pythons = {"limit": sys.executable}
    if ours_error() is None:
        pythons["ours"] = sys.executable
    return workloads.Bench(
        pythons=pythons,
        db=database,
        sizes=workloads.Sizes.tiny(),
        redis=False,
        daphne=False,
        log=lambda message: None,
    )


def require_ours() -> None:
    error = ours_error()
    if error is not None:
        pytest.skip(
            f"our stack cannot be served yet (gateway/streams/hypermedia missing?): {error}"
        )


def values(figures: list[Figure], prefix: str, stack: str) -> list[float]:
    found = [f.value(stack) for f in figures if f.key.startswith(prefix)]
    assert found, f"no figures starting with {prefix!r}"
    return [v for v in found if v is not None]


def assert_positive(figures: list[Figure], prefix: str, stacks: tuple[str, ...]) -> None:
    expected = len([f for f in figures if f.key.startswith(prefix)])
    for stack in stacks:
        got = values(figures, prefix, stack)
        assert len(got) == expected, (stack, prefix, got)
        assert all(v > 0 and not math.isnan(v) for v in got), (stack, prefix, got)


def test_limit_request_workloads(bench: workloads.Bench) -> None:
    bench.pythons.pop("ours", None)
    workloads.run_requests(bench, {"retrieve", "list"})
    assert bench.notes == []
    assert_positive(bench.figures, "retrieve.1x1.uvicorn", ("limit",))
    assert_positive(bench.figures, "retrieve.2x4.uvicorn", ("limit",))
    assert_positive(bench.figures, "list.1x2.uvicorn", ("limit",))


def test_request_workloads(bench: workloads.Bench) -> None:
    require_ours()
    bench.loop_threads = 2
    workloads.run_requests(bench, {"retrieve", "list"})
    assert bench.notes == []
    for prefix in ("retrieve.1x1.uvicorn", "retrieve.2x4.uvicorn", "list.1x2.uvicorn"):
        assert_positive(bench.figures, prefix, ("ours", "limit", "loop1", "loopN"))


def test_request_workloads_on_postgres(bench: workloads.Bench, tmp_path: Path) -> None:
    """The PostgreSQL rows: a database of the run's own, seeded, served, dropped."""
    require_ours()
    require_postgres()
    name = pg.create_database()
    try:
        seed_database(tmp_path, name)
        bench.pg_name = name
        bench.loop_threads = 2
        bench.sizes.retrieve_configs = ((1, 2),)
        workloads.run_requests(bench, {"retrieve"}, db="pg")
    finally:
        pg.drop_database(name)
    assert bench.notes == []
    assert_positive(bench.figures, "retrieve.1x2.uvicorn.pg.", ("ours", "limit", "loop1", "loopN"))


def test_fanout_memory_layer(bench: workloads.Bench) -> None:
    require_ours()
    workloads.run_fanout(bench)
    assert bench.notes == []
    assert_positive(bench.figures, "fanout.memory.5.", ("ours", "limit"))


def test_fanout_redis_layer(bench: workloads.Bench) -> None:
    require_ours()
    require_redis()
    server = bench.server("ours", layer="redis", redis_prefix="bench-smoke-")
    try:
        with server:
            rounds = loadgen.run(loadgen.run_fanout(server.url, subscribers=5, rounds=1))
    finally:
        workloads._redis_cleanup("bench-smoke-")
    assert [r.received for r in rounds] == [5]
    assert rounds[0].max_ms > 0


def test_many_processes(bench: workloads.Bench) -> None:
    """uvicorn --workers on Redis; every subscriber gets the write (tiny: 2 workers, 10);
    the bare broadcast in one process is the limit."""
    require_ours()
    require_redis()
    bench.redis = True
    workloads.run_cluster(bench)
    assert bench.notes == []
    assert_positive(bench.figures, "cluster.2.10.", ("ours", "limit"))


def test_memory(bench: workloads.Bench) -> None:
    require_ours()
    bench.sizes.memory_streams = (2, 10)
    workloads.run_memory(bench)
    assert bench.notes == []
    compat = values(bench.figures, "memory.10.compat.per_conn", "ours")
    assert len(compat) == 1 and compat[0] > 0
    for stack in ("ours", "limit"):
        rate = values(bench.figures, "memory.2.rate", stack)
        assert len(rate) == 1 and rate[0] > 0
        ratio = values(bench.figures, "memory.2.after_over_before", stack)
        assert len(ratio) == 1 and ratio[0] > 0


def test_zero_subscriber_overhead(bench: workloads.Bench) -> None:
    require_ours()
    workloads.run_zero_sub(bench)
    assert bench.notes == []
    assert_positive(bench.figures, "zero_sub.", ("ours", "limit"))
