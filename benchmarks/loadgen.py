"""The load generator: asyncio + ``websockets`` over loopback, bounded in count and time.

Every workload here talks the multiplexed wire format
``{"stream": NAME, "payload": {...}}``; the limit app echoes it. Replies are
matched to requests by ``payload.request_id``; frames with no pending request
(subscription pushes) go to the connection's ``on_event`` callback with their
arrival time. Nothing here imports Django.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from benchmarks.stats import percentile

Payload = dict[str, Any]
EventHandler = Callable[[Payload, float], None]

_ids = itertools.count(1)


class Connection:
    """One client websocket with a reader task that resolves replies by request_id."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.pending: dict[Any, asyncio.Future[tuple[Payload, float]]] = {}
        self.on_event: EventHandler | None = None
        self.frames = 0
        self.reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, url: str, open_timeout: float = 30.0) -> Connection:
        ws = await connect(
            url,
            compression=None,  # same for every stack; deflate would mostly measure zlib
            max_size=None,
            ping_interval=None,  # idle connections must stay idle
            open_timeout=open_timeout,
            close_timeout=2,
        )
        return cls(ws)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                arrived = time.perf_counter()
                self.frames += 1
                frame = json.loads(raw)
                payload = frame.get("payload") if isinstance(frame, dict) else None
                if not isinstance(payload, dict):
                    continue
                request_id = payload.get("request_id")
                future = self.pending.pop(request_id, None) if request_id is not None else None
                if future is not None:
                    if not future.done():
                        future.set_result((payload, arrived))
                elif self.on_event is not None:
                    self.on_event(payload, arrived)
        except ConnectionClosed:
            pass
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("the server closed the socket"))
            self.pending.clear()

    async def request(
        self, stream: str, payload: Payload, reply_timeout: float = 30.0
    ) -> tuple[Payload, float]:
        """Send one frame and wait for the reply with its request_id: (reply, latency s)."""
        request_id = payload["request_id"]
        future: asyncio.Future[tuple[Payload, float]] = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        sent = time.perf_counter()
        await self.ws.send(json.dumps({"stream": stream, "payload": payload}))
        try:
            reply, arrived = await asyncio.wait_for(future, reply_timeout)
        finally:
            self.pending.pop(request_id, None)
        return reply, arrived - sent

    async def send(self, stream: str, payload: Payload) -> float:
        sent = time.perf_counter()
        await self.ws.send(json.dumps({"stream": stream, "payload": payload}))
        return sent

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.reader


async def open_many(
    url: str, count: int, concurrency: int = 50, budget: float | None = None
) -> tuple[list[Connection], float]:
    """Open ``count`` connections, ``concurrency`` at a time: (connections, seconds taken).

    With ``budget`` (seconds), no new connection is started once it is spent, so
    a server that slows down as connections pile up bounds the run, not the
    other way round; the caller sees how many made it.
    """
    limit = asyncio.Semaphore(concurrency)
    started = time.perf_counter()
    deadline = started + budget if budget is not None else None

    async def one() -> Connection | None:
        async with limit:
            if deadline is not None and time.perf_counter() > deadline:
                return None
            return await Connection.open(url)

    results = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    elapsed = time.perf_counter() - started
    connections = [r for r in results if isinstance(r, Connection)]
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        await close_many(connections)
        raise RuntimeError(f"{len(failures)} of {count} connections failed: {failures[0]!r}")
    return connections, elapsed


async def close_many(connections: list[Connection], concurrency: int = 200) -> None:
    limit = asyncio.Semaphore(concurrency)

    async def one(connection: Connection) -> None:
        async with limit:
            await connection.close()

    await asyncio.gather(*(one(c) for c in connections))


@dataclass
class RequestStats:
    completed: int
    errors: int
    elapsed: float
    latencies: list[float] = field(repr=False)

    @property
    def rps(self) -> float:
        return self.completed / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 99) * 1000


async def run_requests(
    url: str,
    stream: str,
    make_payload: Callable[[int], Payload],
    *,
    sockets: int = 1,
    in_flight: int = 1,
    duration: float = 2.0,
    max_requests: int = 1_000_000,
    warmup: int = 50,
    warmup_seconds: float = 0.5,
    expect_status: int | None = 200,
    check: Callable[[Payload], bool] | None = None,
) -> RequestStats:
    """Keep ``in_flight`` requests outstanding on each of ``sockets`` connections.

    Stops after ``duration`` seconds or ``max_requests`` requests, whichever comes
    first. ``expect_status`` (None for the echo limit) and ``check`` decide which
    replies count as errors; errors are counted, not timed into the rate.

    The warm-up sends up to ``warmup`` requests, one at a time, and stops
    early after ``warmup_seconds`` (every socket still sends one, so each
    stream's consumer exists before timing starts): 50 lists of 100 objects
    took seconds per measurement, long after the server was warm.
    """
    connections, _ = await open_many(url, sockets)
    try:
        warm_until = time.perf_counter() + warmup_seconds
        for connection in connections:  # warm caches and lazily created consumers
            for index in range(max(1, warmup // sockets)):
                if index and time.perf_counter() > warm_until:
                    break
                await connection.request(stream, make_payload(next(_ids)))
        latencies: list[float] = []
        errors = 0
        issued = 0
        started = time.perf_counter()
        deadline = started + duration

        async def worker(connection: Connection) -> None:
            nonlocal errors, issued
            while issued < max_requests and time.perf_counter() < deadline:
                issued += 1
                reply, latency = await connection.request(stream, make_payload(next(_ids)))
                ok = expect_status is None or reply.get("response_status") == expect_status
                if ok and check is not None:
                    ok = check(reply)
                if ok:
                    latencies.append(latency)
                else:
                    errors += 1

        await asyncio.gather(*(worker(c) for c in connections for _ in range(in_flight)))
        elapsed = time.perf_counter() - started
        return RequestStats(len(latencies), errors, elapsed, latencies)
    finally:
        await close_many(connections)


@dataclass
class FanoutRound:
    subscribers: int
    received: int
    delays: list[float] = field(repr=False)

    @property
    def p50_ms(self) -> float:
        return percentile(self.delays, 50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.delays, 99) * 1000

    @property
    def max_ms(self) -> float:
        return max(self.delays) * 1000 if self.delays else float("nan")


class _UpdateWatch:
    """One fan-out round: which subscribers got the update with ``title``, and when."""

    def __init__(self, title: str, expected: int) -> None:
        self.title = title
        self.expected = expected
        self.delays: list[float] = []
        self.sent_at = 0.0
        self.all_in: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def handler(self) -> EventHandler:
        seen = False

        def on_event(payload: Payload, arrived: float) -> None:
            nonlocal seen
            if seen or payload.get("action") != "update":
                return
            data = payload.get("data")
            if not isinstance(data, dict) or data.get("title") != self.title:
                return
            seen = True
            self.delays.append(arrived - self.sent_at)
            if len(self.delays) == self.expected and not self.all_in.done():
                self.all_in.set_result(None)

        return on_event


async def run_fanout(
    url: str,
    *,
    subscribers: int,
    rounds: int = 3,
    pk: int = 1,
    stream: str = "books",
    expect_status: int | None = 201,
    reply_timeout: float = 30.0,
    on_subscribed: Callable[[], object] | None = None,
) -> list[FanoutRound]:
    """Subscribe ``subscribers`` sockets to one instance; per round, patch it once.

    The write goes through the server (a ``patch`` over the writer's socket) so
    the server's observers fire. Each round times, for every subscriber, the
    delay from sending the patch to receiving the ``update`` push carrying the
    new title.
    """
    connections, _ = await open_many(url, subscribers)
    writer = await Connection.open(url)
    try:
        tag = next(_ids)

        async def subscribe(index: int, connection: Connection) -> None:
            payload = {"action": "subscribe_instance", "pk": pk, "request_id": f"sub-{tag}-{index}"}
            reply, _ = await connection.request(stream, payload, reply_timeout=reply_timeout)
            if expect_status is not None and reply.get("response_status") != expect_status:
                raise RuntimeError(f"subscribe_instance answered {reply!r}")

        limit = asyncio.Semaphore(50)

        async def bounded(index: int, connection: Connection) -> None:
            async with limit:
                await subscribe(index, connection)

        await asyncio.gather(*(bounded(i, c) for i, c in enumerate(connections)))
        # Let the subscriptions settle (group_add on Redis) before the first write.
        await asyncio.sleep(0.2)
        if on_subscribed is not None:
            on_subscribed()  # e.g. attach a profiler to the writes only

        results = []
        for round_index in range(rounds):
            current = _UpdateWatch(f"fanout-{tag}-{round_index}", subscribers)
            for connection in connections:
                connection.on_event = current.handler()
            request_id = f"write-{tag}-{round_index}"
            patch = {
                "action": "patch",
                "pk": pk,
                "data": {"title": current.title},
                "request_id": request_id,
            }
            current.sent_at = time.perf_counter()
            reply, _ = await writer.request(stream, patch, reply_timeout=reply_timeout)
            if expect_status is not None and reply.get("response_status") != 200:
                raise RuntimeError(f"patch answered {reply!r}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(current.all_in, reply_timeout)
            results.append(FanoutRound(subscribers, len(current.delays), current.delays))
            if len(current.delays) < subscribers:
                break  # pushes were lost: more rounds would only wait 30 s each again
            await asyncio.sleep(0.1)
        return results
    finally:
        await writer.close()
        await close_many(connections)


async def warm_up(url: str, count: int, stream: str = "books", budget: float = 60.0) -> None:
    """Open ``count`` sockets at once and retrieve through each, then close them."""
    connections, _ = await open_many(url, count, concurrency=count)
    try:
        await asyncio.wait_for(
            asyncio.gather(
                *(
                    c.request(stream, {"action": "retrieve", "pk": 1, "request_id": f"w{i}"})
                    for i, c in enumerate(connections)
                )
            ),
            budget,
        )
    finally:
        await close_many(connections)


@dataclass
class ClusterResult:
    """The many-process fan-out: how far set-up got, then each write's round."""

    asked: int
    opened: int = 0
    subscribed: int = 0
    setup_seconds: float = 0.0
    failure: str = ""  # why set-up stopped short, if it did
    rounds: list[FanoutRound] = field(default_factory=list)


async def run_cluster_fanout(
    url: str,
    *,
    subscribers: int,
    rounds: int = 3,
    pk: int = 1,
    stream: str = "books",
    budget: float = 60.0,
    concurrency: int = 100,
    reply_timeout: float = 30.0,
    expect_status: int | None = 201,
) -> ClusterResult:
    """Like :func:`run_fanout`, for many processes and many idle sockets, bounded in time.

    ``budget`` seconds bound connecting and subscribing together; whatever
    opened and subscribed by then is measured (and reported as such), and a
    server that fails (refused sockets, error replies, timeouts) ends the
    set-up early instead of the run. Each round then sends one ``patch`` and
    waits at most ``reply_timeout`` for every subscriber's push.
    """
    result = ClusterResult(asked=subscribers)
    started = time.perf_counter()
    deadline = started + budget
    limit = asyncio.Semaphore(concurrency)
    connections: list[Connection] = []
    subscribed: list[Connection] = []
    failures: list[str] = []
    tag = next(_ids)

    async def one(index: int) -> None:
        async with limit:
            if failures or time.perf_counter() > deadline:
                return
            try:
                remaining = max(1.0, deadline - time.perf_counter())
                connection = await Connection.open(url, open_timeout=min(30.0, remaining))
            except Exception as exc:
                failures.append(f"connect: {type(exc).__name__}: {exc}")
                return
            connections.append(connection)
            payload = {"action": "subscribe_instance", "pk": pk, "request_id": f"c-{tag}-{index}"}
            try:
                reply, _ = await connection.request(
                    stream, payload, reply_timeout=max(1.0, deadline - time.perf_counter())
                )
            except Exception as exc:
                failures.append(f"subscribe: {type(exc).__name__}: {exc}")
                return
            if expect_status is not None and reply.get("response_status") != expect_status:
                failures.append(f"subscribe answered {str(reply)[:200]}")
                return
            subscribed.append(connection)

    writer: Connection | None = None
    try:
        await asyncio.gather(*(one(i) for i in range(subscribers)))
        result.setup_seconds = time.perf_counter() - started
        result.opened, result.subscribed = len(connections), len(subscribed)
        if failures:
            result.failure = f"{len(failures)} failures, first: {failures[0]}"
        elif len(subscribed) < subscribers:
            result.failure = f"only {len(subscribed)} subscribed within the {budget:.0f} s budget"
        if not subscribed:
            return result
        await asyncio.sleep(0.5)  # let group_add land everywhere before the first write
        writer = await Connection.open(url)
        for round_index in range(rounds):
            current = _UpdateWatch(f"cluster-{tag}-{round_index}", len(subscribed))
            for connection in subscribed:
                connection.on_event = current.handler()
            patch = {
                "action": "patch",
                "pk": pk,
                "data": {"title": current.title},
                "request_id": f"cw-{tag}-{round_index}",
            }
            current.sent_at = time.perf_counter()
            try:
                reply, _ = await writer.request(stream, patch, reply_timeout=reply_timeout)
            except Exception as exc:
                result.failure = result.failure or f"patch: {type(exc).__name__}: {exc}"
                break
            if expect_status is not None and reply.get("response_status") != 200:
                result.failure = result.failure or f"patch answered {str(reply)[:200]}"
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(current.all_in, reply_timeout)
            result.rounds.append(FanoutRound(len(subscribed), len(current.delays), current.delays))
            if result.failure or len(current.delays) < len(subscribed):
                break  # one incomplete round tells enough; do not spend 30 s more
            await asyncio.sleep(0.2)
        return result
    finally:
        if writer is not None:
            await writer.close()
        await close_many(connections, concurrency=500)


@dataclass
class MemoryRound:
    connections: int  # how many opened (fewer than asked when the time budget ran out)
    rss_before_kib: int
    rss_open_kib: int
    rss_after_kib: int
    connect_seconds: float
    rss_second_open_kib: int = 0  # a second wave of as many connections
    second_connections: int = 0

    @property
    def per_connection_kib(self) -> float:
        return (self.rss_open_kib - self.rss_before_kib) / self.connections

    @property
    def held_per_connection_kib(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) / self.connections

    @property
    def after_over_before(self) -> float:
        return self.rss_after_kib / self.rss_before_kib

    @property
    def regrowth_per_connection_kib(self) -> float:
        """RSS the second wave adds on top of what the first left: ~0 when memory
        held after close is reused (allocator retention), ~per_connection on a leak."""
        if not self.second_connections:
            return float("nan")
        return (self.rss_second_open_kib - self.rss_after_kib) / self.second_connections

    @property
    def connect_rate(self) -> float:
        return self.connections / self.connect_seconds


async def _settled_rss(read_rss: Callable[[], int], settle: float) -> int:
    """Read RSS until two reads 100 ms apart agree within 1%, at most ``settle`` seconds."""
    deadline = time.perf_counter() + settle
    last = read_rss()
    while time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
        now = read_rss()
        if abs(now - last) <= last * 0.01:
            return now
        last = now
    return last


async def _hold_open(
    url: str,
    count: int,
    concurrency: int,
    budget: float | None,
    read_rss: Callable[[], int],
    settle: float,
    is_alive: Callable[[], bool] | None,
) -> tuple[int, float, int]:
    """Open up to ``count`` idle sockets, read RSS, close them: (opened, seconds, rss)."""
    opened, seconds = await open_many(url, count, concurrency, budget)
    try:
        if not opened:
            raise RuntimeError("no connection opened within the time budget")
        await asyncio.sleep(0.3)
        rss = await _settled_rss(read_rss, settle)
        if is_alive is not None and not is_alive():
            raise RuntimeError("the server died while connections were open")
        still_open = sum(1 for c in opened if c.ws.state.name == "OPEN")
        if still_open != len(opened):
            raise RuntimeError(f"only {still_open} of {len(opened)} connections stayed open")
    finally:
        await close_many(opened)
    return len(opened), seconds, rss


async def run_memory(
    url: str,
    read_rss: Callable[[], int],
    *,
    connections: int = 1000,
    concurrency: int = 50,
    settle: float = 2.0,
    budget: float | None = None,
    second_wave: bool = True,
    is_alive: Callable[[], bool] | None = None,
) -> MemoryRound:
    """RSS before, with ``connections`` idle sockets open, and after they all left.

    ``budget`` bounds each connect phase in seconds. ``second_wave`` opens as
    many connections again after the first left, to tell memory the allocator
    keeps for reuse from memory that leaks.
    """
    warm, _ = await open_many(url, 10)
    await close_many(warm)
    await asyncio.sleep(0.3)
    before = await _settled_rss(read_rss, settle)
    opened, seconds, open_rss = await _hold_open(
        url, connections, concurrency, budget, read_rss, settle, is_alive
    )
    await asyncio.sleep(0.5)
    after = await _settled_rss(read_rss, settle)
    result = MemoryRound(opened, before, open_rss, after, seconds)
    if second_wave:
        result.second_connections, _, result.rss_second_open_kib = await _hold_open(
            url, opened, concurrency, budget, read_rss, settle, is_alive
        )
    return result


def run(coro: Awaitable[Any]) -> Any:
    """Run a workload on uvloop when available (the client is often the bottleneck)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)  # type: ignore[arg-type]
