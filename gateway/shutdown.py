"""Graceful shutdown: drain the process's gateway connections before it exits.

A rolling restart should cost users nothing but a reconnect. When the process
is told to stop (SIGTERM, or the ASGI lifespan shutdown), :func:`drain`:

1. marks the process as draining: readiness (``gateway.health``) answers 503,
   so the load balancer stops sending new sockets; a socket that still
   arrives is accepted and closed at once with 1012 (service restart), so its
   client reconnects (elsewhere) without waiting for a back-off;
2. on every open connection, answers new frames with a 503 error frame and
   lets the requests already sent finish, up to the gateway's
   ``shutdown_grace`` seconds (a request is finished once a frame with its
   ``request_id`` has been sent back);
3. closes each connection with 1012 after its queued frames, which tells its
   streams to disconnect, where consumers leave their groups;
4. waits for the connections to finish, then lets the server go on with its
   own shutdown.

Servers differ in when they tell the application: uvicorn closes every socket
itself (1012, with no grace) *before* the lifespan shutdown, so the drain has
to start from the signal. :class:`GracefulShutdown` wraps the ASGI application
and, at lifespan startup, chains a handler in front of the server's SIGTERM and
SIGINT handlers: the first signal drains, then hands the signal to the server;
a second one goes to the server at once. Servers without lifespan support can
call :func:`install_signal_handlers` from their own start-up code, or
``await drain()`` from their shutdown hook.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import weakref
from collections.abc import Callable, Iterable
from types import FrameType
from typing import TYPE_CHECKING, Any

from gateway.asgi import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from gateway.gateway import Gateway

__all__ = [
    "GracefulShutdown",
    "drain",
    "draining",
    "install_signal_handlers",
]

logger = logging.getLogger("gateway.shutdown")

#: The close code drained connections get: "service restart", reconnect.
SERVICE_RESTART = 1012
#: Extra seconds, past every connection's grace, to wait for the connections
#: to finish closing (the client's close reply, the streams' disconnect).
CLOSE_MARGIN = 5.0


class _ProcessState:
    """This process's open gateway connections and whether it is draining."""

    def __init__(self) -> None:
        self.draining = False
        self.connections: weakref.WeakSet[Gateway] = weakref.WeakSet()


_state = _ProcessState()


def draining() -> bool:
    """True once :func:`drain` has started in this process."""
    return _state.draining


def opened(conn: Gateway) -> None:
    """Called by the gateway when it accepts a socket."""
    _state.connections.add(conn)


def closed(conn: Gateway) -> None:
    """Called by the gateway when its connection ends."""
    _state.connections.discard(conn)


def reset() -> None:
    """Leave the draining state (tests; a process normally exits after a drain)."""
    _state.draining = False


async def drain(grace: float | None = None) -> None:
    """Drain every gateway connection of this process; returns once they are closed.

    ``grace`` overrides each gateway's ``shutdown_grace`` (seconds the requests
    in flight get to finish). Safe to call more than once.
    """
    _state.draining = True
    connections = list(_state.connections)
    if not connections:
        return
    logger.info("draining %d gateway connection(s)", len(connections))
    await asyncio.gather(*(conn.drain(grace) for conn in connections), return_exceptions=True)
    longest = max(
        (conn.options.shutdown_grace if grace is None else grace for conn in connections),
        default=0.0,
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + longest + CLOSE_MARGIN
    # Polled: runs once per process lifetime, and connections end on their own.
    while _state.connections and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if _state.connections:
        logger.warning(
            "%d gateway connection(s) still open after the drain", len(_state.connections)
        )
    else:
        logger.info("every gateway connection is closed")


Handler = Callable[[int, FrameType | None], Any] | int | None


def install_signal_handlers(
    signals: Iterable[int] = (signal.SIGTERM, signal.SIGINT), grace: float | None = None
) -> None:
    """Drain on the first of ``signals``, then hand the signal to the previous handler.

    Call it from the event loop's thread once the server has installed its
    own handlers (at lifespan startup, which :class:`GracefulShutdown` does).
    A second signal during the drain goes to the previous handler at once, so
    an impatient operator still stops the process.
    """
    loop = asyncio.get_running_loop()
    for signum in signals:
        previous: Handler = signal.getsignal(signum)
        if getattr(previous, "gateway_drain", False):
            continue  # already installed (several lifespans in one process)

        def handler(signum: int, frame: FrameType | None, previous: Handler = previous) -> None:
            if _state.draining:
                _forward(signum, frame, previous)
                return
            _state.draining = True
            logger.info("signal %s: draining before shutdown", signal.Signals(signum).name)
            loop.call_soon_threadsafe(_start_drain, signum, previous, grace)

        handler.gateway_drain = True  # type: ignore[attr-defined]
        signal.signal(signum, handler)


def _start_drain(signum: int, previous: Handler, grace: float | None) -> None:
    task = asyncio.get_running_loop().create_task(drain(grace))

    def done(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("the drain failed", exc_info=task.exception())
        _forward(signum, None, previous)

    task.add_done_callback(done)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


#: Running drain tasks, held so they are not garbage-collected mid-way.
_tasks: set[asyncio.Task[None]] = set()


def _forward(signum: int, frame: FrameType | None, previous: Handler) -> None:
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL:
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
    # SIG_IGN or None (not installed from Python): nothing to hand over.


class GracefulShutdown:
    """ASGI wrapper: drain the gateway connections on SIGTERM/SIGINT and lifespan shutdown.

    ::

        application = GracefulShutdown(ProtocolTypeRouter({...}))

    It answers the ``lifespan`` scope itself (the wrapped application does
    not see it): at startup it installs the signal handlers
    (:func:`install_signal_handlers`), at shutdown it drains (a no-op when a
    signal already did). ``grace`` overrides the gateways' ``shutdown_grace``.
    Other scopes go to the wrapped application unchanged.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        grace: float | None = None,
        signals: Iterable[int] = (signal.SIGTERM, signal.SIGINT),
    ) -> None:
        self.app = app
        self.grace = grace
        self.signals = tuple(signals)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            kind = message.get("type")
            if kind == "lifespan.startup":
                install_signal_handlers(self.signals, self.grace)
                await send({"type": "lifespan.startup.complete"})
            elif kind == "lifespan.shutdown":
                await drain(self.grace)
                await send({"type": "lifespan.shutdown.complete"})
                return
