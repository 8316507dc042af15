"""The gateway: one websocket carrying many named streams.

A :class:`Gateway` instance serves one connection. It accepts the client socket
itself, then starts a stream's application on the stream's first frame (so a
connection pays only for the streams it uses) and relays frames both ways:

* client frames ``{"stream": NAME, "payload": {...}}`` are decoded once, checked
  and queued to that stream's :class:`~gateway.stream.StreamHandle`;
* everything a stream sends goes through one bounded outbox, drained by a
  writer task, so a client that stops reading is detected (close 1013) instead
  of growing server memory.

Every gateway-level failure is an error frame, never an exception that would
close the socket. The wire contract is written down in ``docs/PROTOCOL.md``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from gateway import metrics, shutdown, tracing
from gateway.asgi import JSON_EXTENSION, Message, Receive, Scope, Send
from gateway.cancellation import cancel_and_wait
from gateway.cleanups import Cleanups
from gateway.intake import RESTARTING as RESTARTING
from gateway.intake import FrameIntake
from gateway.ledger import ReplyLedger
from gateway.memory import releaser
from gateway.mounting import Mountable
from gateway.options import GatewayOptions
from gateway.outbox import Outbox
from gateway.ratelimit import FrameRate
from gateway.routing import Route, RouteTable, StreamScope
from gateway.stream import StreamHandle, StreamState

__all__ = ["Gateway"]

logger = logging.getLogger(__name__)

_TERMINAL = (StreamState.REFUSED, StreamState.CLOSED)


class Gateway(Mountable, FrameIntake):
    """An ASGI application that multiplexes named streams over one websocket.

    Mount it with :meth:`as_asgi`::

        class Demoplexer(Gateway):
            streams = {"books": BookConsumer, "echo": EchoConsumer.as_asgi()}

        URLRouter([path("ws/", Demoplexer.as_asgi())])

    ``streams`` maps stream names to consumer classes or ASGI applications; it
    is read, never modified. Limits are class attributes (see
    :class:`~gateway.options.GatewayOptions` for their meaning), overridable per
    route as keyword arguments of :meth:`as_asgi` (both in
    :class:`gateway.mounting.Mountable`). An instance serves one connection.
    """

    __slots__ = (
        "__weakref__",
        "_accepted",
        "_cleanups",
        "_close_code",
        "_outbox",
        "_overdue",
        "_receiving",
        "_refusal",
        "_send",
        "_settled",
        "_shared",
        "_started",
        "_subprotocol",
        "_task",
        "_trace",
        "closing",
        "draining",
        "id",
        "in_flight",
        "options",
        "routes",
        "scope",
    )

    def __init__(
        self, *, routes: RouteTable | None = None, options: GatewayOptions | None = None
    ) -> None:
        self.routes = routes if routes is not None else self.build_routes()
        self.options = options if options is not None else GatewayOptions.resolve(type(self))
        self.id = secrets.token_hex(4)
        self.scope: Scope = {}
        self.in_flight = 0
        self.closing = False
        self.draining = False
        # Requests routed and not yet answered; made on the first request.
        self._awaiting: ReplyLedger | None = None
        self._trace: Any = None
        self._started: dict[str, StreamHandle] = {}
        # StreamScope.shared: made with the first stream (idle sockets have none).
        self._shared: dict[str, Any] | None = None
        # Idle connections are the common case: made on the first frame out.
        self._outbox: Outbox | None = None
        self._accepted = False
        self._cleanups: Cleanups | None = None
        self._settled: asyncio.Event | None = None
        self._bad_frames = 0
        self._drops = 0
        self._frames_in = 0
        self._close_code: int | None = None
        # The task running this application, and whether it waits for client
        # frames (the one place _close_overdue may interrupt it).
        self._task: asyncio.Task[Any] | None = None
        self._receiving = False
        self._overdue = False
        # Made on the first routed frame: idle connections do not pay for it.
        self._frame_rate: FrameRate | None = None
        self._refusal: int | None = None
        self._subprotocol: str | None = None

    # ------------------------------------------------------------ connection
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "websocket":
            raise ValueError(
                f"{type(self).__qualname__} serves websocket connections only, got a "
                f"{scope.get('type')!r} scope. Mount it under ProtocolTypeRouter's 'websocket'."
            )
        self.scope = scope
        self._send = send
        self._task = asyncio.current_task()
        code: int | None = None
        releaser.opened()
        try:
            try:
                code = await self._serve(receive)
            except asyncio.CancelledError:
                if not self._ended_overdue():
                    raise
                code = self._close_code
                await self._shutdown(code or 1006)
        finally:
            self._abandon()
            shutdown.closed(self)
            if self._trace is not None:
                self._end_traces(code)
            if self._accepted:
                metrics.connection_closed(type(self).__qualname__)
            releaser.closed()
            if code is not None:
                logger.info(
                    "gateway %s: connection closed (code %s; %d stream(s) started, %d frame(s) "
                    "in, %d refused or dropped)",
                    self.id,
                    code,
                    len(self._started),
                    self._frames_in,
                    self._drops,
                )

    async def _serve(self, receive: Receive) -> int | None:
        message = await receive()
        if message.get("type") != "websocket.connect":
            return None  # the client left before the handshake
        if shutdown.draining():
            # Tell the client to reconnect now (elsewhere), not after a back-off.
            logger.info("gateway %s: the process is draining; closing with 1012", self.id)
            await self._send({"type": "websocket.accept"})
            await self._send({"type": "websocket.close", "code": shutdown.SERVICE_RESTART})
            return shutdown.SERVICE_RESTART
        if await self.connect() is False and self._refusal is None:
            self._refusal = 1000
        if self._refusal is not None:
            logger.info("gateway %s: connect() refused the connection", self.id)
            await self._send({"type": "websocket.close", "code": self._refusal})
            await self._shutdown(self._refusal)
            return self._refusal
        if tracing.ENABLED:
            # Before any stream starts: their tasks inherit the span as context.
            self._trace = tracing.connection_started(
                type(self).__qualname__, self.scope.get("path")
            )
        if self.options.eager_streams and not await self._start_all():
            logger.info("gateway %s: every stream refused; connection refused", self.id)
            await self._send({"type": "websocket.close", "code": 1000})
            await self._shutdown(1000)
            return 1000
        accept: Message = {"type": "websocket.accept"}
        subprotocol = self._subprotocol or self.select_subprotocol(
            list(self.scope.get("subprotocols") or ())
        )
        if subprotocol is not None:
            accept["subprotocol"] = subprotocol
        await self._send(accept)
        logger.info(
            "gateway %s: connection opened on %s (%d stream(s) mounted)",
            self.id,
            self.scope.get("path"),
            len(self.routes),
        )
        self._accepted = True
        shutdown.opened(self)
        metrics.connection_opened(type(self).__qualname__)
        if self._outbox is not None:
            self._outbox.start()
        for handle in self._started.values():
            self.stream_settled(handle)  # eager: some may have closed already
        code = 1005
        self._receiving = True
        while True:
            try:
                message = await receive()
            except Exception as exc:
                # Some servers raise instead of sending websocket.disconnect
                # when the connection drops; clean up just the same.
                logger.info("gateway %s: receiving failed: %r", self.id, exc)
                code = 1006
                break
            kind = message.get("type")
            if kind == "websocket.receive":
                if self._on_frame(message):
                    # Let the stream take the frame before the next one is read,
                    # so that bursts queue in streams, not as 429s.
                    await asyncio.sleep(0)
            elif kind == "websocket.disconnect":
                code = message.get("code") or 1005
                break
        self._receiving = False
        await self._shutdown(code)
        return code

    # ------------------------------------------------------ lifecycle hooks
    async def connect(self) -> bool | None:
        """Called once the client asks to connect, before any stream starts.

        Override it to refuse sockets, as channelsmultiplexer users override
        their demultiplexer's ``connect()``: ``await self.close()`` (or return
        ``False``) refuses the handshake; anything else lets the gateway go on
        (start the streams when eager, accept the socket). ``self.scope`` is
        the connection's scope. The default does nothing.
        """
        return None

    async def accept(self, subprotocol: str | None = None) -> None:
        """Channels' spelling inside ``connect()``: go on, accepting with ``subprotocol``.

        The gateway accepts the socket itself once ``connect()`` returns (in
        eager mode, once a stream accepts), so this only records the
        subprotocol.
        """
        self._subprotocol = subprotocol

    async def close(self, code: int | None = None) -> None:
        """Close the socket; inside ``connect()`` this refuses the handshake."""
        if not self._accepted:
            self._refusal = code or 1000
            return
        self._close_socket(code or 1000)

    async def disconnect(self, code: int) -> None:
        """Called when the socket is gone; every stream has been told to disconnect.

        The default waits up to ``application_close_timeout`` for the streams
        to finish their own disconnect handling, as channelsmultiplexer's
        ``disconnect`` did for its children: code after ``await
        super().disconnect(code)`` in an override runs once they are done.
        Streams still running afterwards are cancelled.
        """
        running = [h.task for h in self._started.values() if not h.task.done()]
        if running:
            await asyncio.wait(running, timeout=self.options.application_close_timeout)

    async def drain(self, grace: float | None = None) -> None:
        """Close this connection for a restart, letting its requests finish first.

        New frames are answered 503 from now on; requests already routed get
        up to ``grace`` seconds (default: the ``shutdown_grace`` option) for a
        frame carrying their ``request_id``; then the socket closes with 1012
        after its queued frames, and the streams are told to disconnect.
        Called for every connection by :func:`gateway.shutdown.drain`.
        """
        if self.closing:
            return
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.options.shutdown_grace if grace is None else grace)
        # Polled: replies, refusals and streams closing all change the answer,
        # and this runs once per connection per process lifetime.
        while self.unanswered() and not self.closing and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        left = self.unanswered()
        if left and not self.closing:
            logger.warning(
                "gateway %s: %d request(s) unanswered after the shutdown grace; closing",
                self.id,
                left,
            )
        self._close_socket(shutdown.SERVICE_RESTART)

    def select_subprotocol(self, offered: list[str]) -> str | None:
        """The subprotocol to accept the socket with; override to pick one of ``offered``.

        Streams cannot choose: the socket is accepted once, by the gateway.
        """
        return None

    async def _start_all(self) -> bool:
        """Eager mode: start every stream; True once one accepts, False if none does."""
        self._settled = asyncio.Event()
        try:
            for route in self.routes.values():
                self._start(route)
            handles = list(self._started.values())
            while not any(h.state is StreamState.OPEN for h in handles):
                if all(h.settled for h in handles):
                    return False
                self._settled.clear()
                await self._settled.wait()
            return True
        finally:
            self._settled = None

    def _start(self, route: Route) -> StreamHandle:
        scope = dict(self.scope)
        if self._shared is None:
            self._shared = {}
        scope["gateway"] = StreamScope(self.routes, route.name, self._shared)
        scope["extensions"] = {**(self.scope.get("extensions") or {}), JSON_EXTENSION: {}}
        handle = StreamHandle(self, route, scope)
        self._started[route.name] = handle
        return handle

    # ------------------------------------------------------- reply tracking
    def answered(self, stream: str | None, request_id: Any, status: Any = None) -> None:
        """A frame carrying ``request_id`` was sent on ``stream``: that request is done."""
        if self._awaiting:
            self._awaiting.answered(stream, request_id, status)

    def _end_traces(self, code: int | None) -> None:
        if self._awaiting is not None:
            self._awaiting.end_spans()
        tracing.connection_ended(self._trace, code)
        self._trace = None

    def unanswered(self) -> int:
        """Requests routed to streams still running and not answered yet."""
        if not self._awaiting:
            return 0
        live = {n for n, h in self._started.items() if h.state not in _TERMINAL}
        return self._awaiting.unanswered(live)

    # -------------------------------------------- used by the stream handles
    def push_frame(self, text: str) -> None:
        """Queue an outgoing frame; a full outbox means a slow reader: close 1013."""
        if self.closing:
            return
        outbox = self._outbox_or_new()
        if outbox.size + outbox.cost(text) > self.options.max_outbound_bytes and len(outbox):
            logger.warning(
                "gateway %s: client is not reading (%d frames, %d bytes queued); "
                "dropping them and closing with 1013",
                self.id,
                len(outbox),
                outbox.size,
            )
            metrics.dropped("outbox_overflow", len(outbox))
            outbox.clear()
            self._close_socket(1013)
            return
        outbox.push(text)

    def _outbox_or_new(self) -> Outbox:
        outbox = self._outbox
        if outbox is None:
            outbox = self._outbox = Outbox(self._send, self.id, self._send_failed)
            outbox.ready = self._accepted
        return outbox

    def _send_failed(self) -> None:
        self.closing = True

    async def yield_to_writer(self) -> None:
        # A stream sending many frames in a row lets the writer drain between
        # them, so a fast client never sees a 1013 caused by a burst.
        if self._outbox is not None and len(self._outbox):
            await asyncio.sleep(0)

    def stream_settled(self, handle: StreamHandle) -> None:
        """A stream accepted, refused or closed."""
        if self._settled is not None:
            self._settled.set()
            return
        if self.closing or not self._accepted or handle.state not in _TERMINAL:
            return
        if len(self._started) == len(self.routes) and all(
            h.state in _TERMINAL for h in self._started.values()
        ):
            logger.info("gateway %s: every stream has closed; closing the socket", self.id)
            self._close_socket(1000)

    def spawn_cleanup(self, coro: Any) -> None:
        """Run a crashed or cancelled stream's disconnect handling (gateway.cleanups)."""
        if self._cleanups is None:
            self._cleanups = Cleanups(self.id, self.options.application_close_timeout)
        self._cleanups.spawn(coro)

    # ------------------------------------------------------------- closing
    def _close_socket(self, code: int) -> None:
        """Close from the server side: stop streams, send close after queued frames."""
        if self.closing:
            return
        self.closing = True
        self._close_code = code
        metrics.server_closed(code)
        self._outbox_or_new().push_close(code, self.options.close_timeout, self._close_overdue)
        for handle in self._started.values():
            handle.stop(code)

    def _close_overdue(self) -> None:
        """The close frame did not get out in ``close_timeout``: end the connection anyway.

        The server's ``send`` is still blocked on a client that reads nothing
        (uvicorn waits for its transport to drain before writing anything, the
        close frame included). Waiting longer would hold the connection and its
        streams for as long as the client likes, so the writer is cancelled and
        the application returns; the server then closes the TCP connection
        (see docs/PROTOCOL.md, "Slow readers").
        """
        logger.warning(
            "gateway %s: the client has not taken the close frame (code %s) within %ss: "
            "it is not reading; ending the connection without it",
            self.id,
            self._close_code,
            self.options.close_timeout,
        )
        if self._receiving and self._task is not None:
            self._overdue = True  # marks the cancellation as ours
            self._task.cancel()

    def _ended_overdue(self) -> bool:
        """Was the task cancelled by _close_overdue (and by nobody else)? Then absorb it."""
        task = self._task
        if not self._overdue or task is None or task.cancelling() != 1:
            return False
        task.uncancel()
        self._receiving = False
        return True

    async def _shutdown(self, code: int) -> None:
        """The client left: disconnect every stream, wait for them, cancel stragglers."""
        self.closing = True
        handles = list(self._started.values())
        for handle in handles:
            handle.stop(code)
        timeout = self.options.application_close_timeout
        try:
            await self.disconnect(code)
        except Exception:
            logger.exception("gateway %s: disconnect() failed", self.id)
        late = {h.task for h in handles if not h.task.done()}
        if late:
            logger.warning(
                "gateway %s: %d stream(s) still running %ss after disconnect; cancelling",
                self.id,
                len(late),
                timeout,
            )
            await cancel_and_wait(late, within=timeout)
        if self._cleanups:
            await self._cleanups.wait()

    def _abandon(self) -> None:
        """Cancel whatever is still running; a no-op after a complete shutdown."""
        self.closing = True
        for handle in self._started.values():
            handle.stop(self._close_code or 1006)
            if not handle.task.done():
                handle.task.cancel()
        if self._cleanups is not None:
            self._cleanups.cancel()
        if self._outbox is not None:
            self._outbox.cancel()
