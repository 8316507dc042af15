"""A client that stops reading, against the demo served by uvicorn (what ``make demo`` runs).

Two raw TCP clients with a 4 KiB receive buffer flood the demo with ``list``
and ``retrieve`` requests and read nothing, while a third, well-behaved client
keeps asking for books. One book has a 300 KB summary, so that a few seconds
of replies fill the kernel's socket buffers (several MB on loopback) and the
outbox behind them. The gateway's outbox fills (``max_outbound_bytes``),
because uvicorn's ``send`` blocks while the client's socket is full, and:

* the first slow client, reading again once the server has decided, finds the
  close frame with code 1013 on the wire after what was already sent;
* the second never reads: its connection ends ``close_timeout`` (5 s) later,
  without the close frame it cannot take (the server log says so);
* the server's resident memory stays bounded and the third client is served
  throughout.

The proof that daphne cannot do this is not a test: Twisted buffers every
write, so nothing ever fills (docs/RELIABILITY.md, item 29).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.demo_server import DemoServer, DemoSocket, run_demo_server

#: Resident memory the server may gain over the warmed-up baseline while two
#: clients flood it without reading. What the gateway itself may hold per slow
#: connection is ``max_outbound_bytes`` (2 MiB of frame text) plus the frame
#: the server is blocked on and uvicorn's transport buffer (64 KiB high-water
#: mark); the rest is allocator slack. Measured: about 10 MB; without the
#: bound (daphne, where writes never block), hundreds of MB.
RSS_GROWTH_LIMIT_MB = 50
#: Seconds a flood may take before the server must have closed the client.
DECISION_TIMEOUT = 20.0
#: The demo's Gateway default (GatewayOptions.close_timeout).
CLOSE_TIMEOUT = 5.0
_OPENED = re.compile(r"gateway (\w+): connection opened")

pytestmark = pytest.mark.slow


#: The book whose retrieve reply is large, and one whose reply is small.
BIG_SUMMARY = 300_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    with run_demo_server(tmp_path_factory.mktemp("slow-reader"), server="uvicorn") as running:
        yield running


@pytest.fixture(scope="module")
def books(server: DemoServer) -> tuple[int, int]:
    """(pk of a book with a 300 KB summary, pk of an ordinary one)."""
    output = server.manage(
        "shell",
        "-c",
        "from library.models import Book; big, small = Book.objects.order_by('pk')[:2]; "
        f"Book.objects.filter(pk=big.pk).update(summary='x' * {BIG_SUMMARY}); "
        "print(big.pk, small.pk)",
    ).stdout
    big, small = map(int, output.split()[-2:])
    return big, small


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS line")


def opened_ids(server: DemoServer) -> list[str]:
    return _OPENED.findall(server.log())


# ---------------------------------------------------------- raw websocket
def client_frame(text: str) -> bytes:
    """A masked text frame, as a client must send it (RFC 6455, 5.3)."""
    data = text.encode()
    mask = os.urandom(4)
    length = len(data)
    if length < 126:
        header = bytes([0x81, 0x80 | length])
    elif length < 1 << 16:
        header = bytes([0x81, 0x80 | 126]) + struct.pack("!H", length)
    else:
        header = bytes([0x81, 0x80 | 127]) + struct.pack("!Q", length)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(data))
    return header + mask + masked


class ServerFrames:
    """Reads a server's unmasked frames as bytes arrive; notes the close code."""

    def __init__(self) -> None:
        self.pending = b""
        self.frames = 0
        self.close_code: int | None = None

    def feed(self, data: bytes) -> None:
        self.pending += data
        while self.close_code is None:
            stream = self.pending
            if len(stream) < 2:
                return
            opcode, length, offset = stream[0] & 0x0F, stream[1] & 0x7F, 2
            if length == 126:
                if len(stream) < 4:
                    return
                (length,) = struct.unpack_from("!H", stream, 2)
                offset = 4
            elif length == 127:
                if len(stream) < 10:
                    return
                (length,) = struct.unpack_from("!Q", stream, 2)
                offset = 10
            if len(stream) < offset + length:
                return
            payload = stream[offset : offset + length]
            self.pending = stream[offset + length :]
            self.frames += 1
            if opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if length >= 2 else 1005


def open_slow_socket(server: DemoServer) -> socket.socket:
    """A websocket whose client-side receive buffer is 4 KiB (set before connecting)."""
    port = int(server.url.rsplit(":", 1)[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: {server.url}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # byte by byte: nothing after the headers is read
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def flood(sock: socket.socket, big: int, stop: threading.Event) -> int:
    """Send list and retrieve requests until told to stop; never read. Returns the count."""
    sent = 0
    sock.settimeout(2)
    while not stop.is_set():
        if sent % 10:
            frame = {"stream": "books", "payload": {"action": "retrieve", "pk": big}}
        else:
            frame = {"stream": "authors", "payload": {"action": "list"}}
        frame["payload"]["request_id"] = sent
        try:
            sock.sendall(client_frame(json.dumps(frame)))
        except OSError:
            break  # the server stopped reading: it has given up on us
        sent += 1
        if sent % 100 == 0:
            time.sleep(0.1)  # about 1,000 frames/s: the rate limit's sustained rate
    return sent


def read_until_closed(sock: socket.socket, within: float) -> ServerFrames:
    """Read what the server sent until its close frame (or EOF, or ``within`` seconds)."""
    frames = ServerFrames()
    sock.settimeout(within)
    deadline = time.monotonic() + within
    while frames.close_code is None and time.monotonic() < deadline:
        try:
            chunk = sock.recv(1 << 16)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        frames.feed(chunk)
    return frames


async def wait_for_log(server: DemoServer, pattern: str, within: float) -> float:
    """Seconds until ``pattern`` appears in the server log."""
    started = time.monotonic()
    while pattern not in server.log():
        if time.monotonic() - started > within:
            raise AssertionError(
                f"{pattern!r} not logged within {within}s:\n{server.log()[-3000:]}"
            )
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def open_and_identify(server: DemoServer) -> tuple[socket.socket, str]:
    before = len(opened_ids(server))
    sock = await asyncio.to_thread(open_slow_socket, server)
    for _ in range(200):
        ids = opened_ids(server)
        if len(ids) > before:
            return sock, ids[before]
        await asyncio.sleep(0.05)
    raise AssertionError("the server did not log the connection")


# ------------------------------------------------------------------- test
async def test_slow_readers_are_closed_with_1013_in_bounded_time_and_memory(
    server: DemoServer, books: tuple[int, int]
) -> None:
    big, small = books
    async with DemoSocket.open(server) as good:
        for _ in range(20):  # warm up: code paths, action threads, connections
            await good.request("authors", {"action": "list"})
            await good.request("books", {"action": "retrieve", "pk": big})
            await good.request("books", {"action": "retrieve", "pk": small})
        baseline = rss_mb(server.pid)

        reader, reader_id = await open_and_identify(server)  # reads once closed
        deaf, deaf_id = await open_and_identify(server)  # never reads
        stops = {reader_id: threading.Event(), deaf_id: threading.Event()}
        started = time.monotonic()
        floods = [
            asyncio.create_task(asyncio.to_thread(flood, sock, big, stops[gid]))
            for sock, gid in ((reader, reader_id), (deaf, deaf_id))
        ]
        peak = baseline
        latencies: list[float] = []

        async def watch() -> None:
            nonlocal peak
            while not all(stop.is_set() for stop in stops.values()):
                log = server.log()
                for gid, stop in stops.items():
                    if f"gateway {gid}: client is not reading" in log:
                        stop.set()
                peak = max(peak, rss_mb(server.pid))
                if time.monotonic() - started > DECISION_TIMEOUT:
                    for stop in stops.values():
                        stop.set()
                    break
                await asyncio.sleep(0.1)

        async def keep_asking() -> None:
            while not all(stop.is_set() for stop in stops.values()):
                asked = time.monotonic()
                reply = await good.request("books", {"action": "retrieve", "pk": small}, wait=5)
                assert reply["response_status"] == 200, reply
                latencies.append(time.monotonic() - asked)
                await asyncio.sleep(0.05)

        await asyncio.gather(watch(), keep_asking())
        sent = await asyncio.gather(*floods)
        decided = time.monotonic() - started
        log = server.log()
        for gid in (reader_id, deaf_id):
            assert f"gateway {gid}: client is not reading" in log, (
                f"no 1013 within {DECISION_TIMEOUT}s after {sent} requests:\n{log[-3000:]}"
            )

        # The reader reads again: after what was already on its way, the close frame.
        frames = await asyncio.to_thread(read_until_closed, reader, CLOSE_TIMEOUT)
        closed_after = time.monotonic() - started
        assert frames.close_code == 1013, f"{frames.frames} frames read, no 1013 close frame"

        # The deaf client cannot take a close frame: its connection ends anyway.
        await wait_for_log(
            server,
            f"gateway {deaf_id}: the client has not taken the close frame (code 1013) within",
            CLOSE_TIMEOUT + 5,
        )
        await wait_for_log(server, f"gateway {deaf_id}: connection closed (code 1013", 5)
        ended_after = time.monotonic() - started
        peak = max(peak, rss_mb(server.pid))

        # The well-behaved client was served all along, and still is.
        assert latencies and max(latencies) < 3, latencies
        assert (await good.request("authors", {"action": "list"}))["response_status"] == 200
        reader.close()
        deaf.close()

    growth = peak - baseline
    print(  # the figures docs/RELIABILITY.md quotes; shown with pytest -s
        f"\nslow readers: {sent} requests sent; {frames.frames} frames read, then 1013 decided after {decided:.1f}s; "
        f"close frame read after {closed_after:.1f}s; deaf connection ended after "
        f"{ended_after:.1f}s; RSS {baseline:.0f} -> peak {peak:.0f} MB (+{growth:.1f}); "
        f"good client: {len(latencies)} replies, slowest {max(latencies):.2f}s"
    )
    assert growth < RSS_GROWTH_LIMIT_MB, f"RSS grew {growth:.1f} MB (limit {RSS_GROWTH_LIMIT_MB})"
