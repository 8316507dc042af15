"""One started stream of one connection: the child application and its queue.

A :class:`StreamHandle` runs its stream's application as a task of its own, so
a slow action in one stream never delays another, while frames of the same
stream are taken strictly in order. Towards the child it plays the ASGI server:
``receive`` hands out ``websocket.connect``, then the stream's frames, then
``websocket.disconnect``; ``send`` turns ``websocket.accept``/``close`` into
state changes and ``websocket.send`` into outgoing frames.

Life cycle::

    CONNECTING --accept--> OPEN --close / task ends--> CLOSED (frames: 410)
        \\--close / raises / returns / times out--> REFUSED (frames: 403)
"""

from __future__ import annotations

import asyncio
import enum
import logging
from typing import TYPE_CHECKING, Any

from channels.exceptions import StopConsumer

from gateway import metrics
from gateway.asgi import Message, Scope
from gateway.frames import encode_error, encode_frame, readable_meta, splice_frame
from gateway.inbox import Inbox
from gateway.routing import Route

if TYPE_CHECKING:
    from gateway.gateway import Gateway

__all__ = ["StreamHandle", "StreamState"]

logger = logging.getLogger(__name__)

REFUSED_MESSAGE = "Stream {name!r} refused the connection."
CLOSED_MESSAGE = "Stream {name!r} is closed."
INTERNAL_ERROR_MESSAGE = "Internal server error."

# Wakes a receive() that waits on an empty queue so that it sees ``stopped``.
_WAKE = object()


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def _raise(exc: Exception) -> None:
    raise exc


class StreamState(enum.Enum):
    CONNECTING = "connecting"
    OPEN = "open"
    REFUSED = "refused"
    CLOSED = "closed"


# (message for the child, action, request_id): the last two answer errors.
_Item = tuple[Message, str | None, Any]


class StreamHandle:
    __slots__ = (
        "_connect_pending",
        "_current",
        "_pending",
        "_queue",
        "_stop_code",
        "_stopped",
        "_timer",
        "conn",
        "disconnect_delivered",
        "instance",
        "name",
        "route",
        "state",
        "task",
    )

    def __init__(self, conn: Gateway, route: Route, scope: Scope) -> None:
        self.conn = conn
        self.route = route
        self.name = route.name
        self.state = StreamState.CONNECTING
        # An Inbox, not an asyncio.Queue: a stream that never gets a frame
        # (the compat demultiplexer starts them all) should hold next to nothing.
        self._queue: Inbox[Any] = Inbox()
        # Frames that arrive before the child accepts wait here, so that a
        # refusal can answer them without the child ever seeing them.
        self._pending: list[_Item] = []
        self._connect_pending = True
        self._stopped = False
        self._stop_code = 1000
        self._current: tuple[str | None, Any] | None = None
        self.disconnect_delivered = False
        loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = loop.call_later(
            conn.options.stream_connect_timeout, self._connect_timed_out
        )
        # Creating the consumer instance here (rather than through its
        # as_asgi() app) keeps a handle for cleanup after a crash or a cancel.
        self.instance: Any = None
        try:
            self.instance = route.new_instance()
            if self.instance is not None:
                coro = self.instance(scope, self.receive, self.send)
            else:
                coro = route.app(scope, self.receive, self.send)
            if not asyncio.iscoroutine(coro):
                coro = _await(coro)
        except Exception as exc:
            # Surfaces through _task_done like a failure inside connect.
            coro = _raise(exc)
        self.task: asyncio.Task[Any] = loop.create_task(coro, name=f"gateway {conn.id} {self.name}")
        self.task.add_done_callback(self._task_done)

    # ----------------------------------------------------------- from gateway
    def deliver(self, message: Message, action: str | None, request_id: Any) -> None:
        """Queue a client frame for the child, or answer it if the stream is gone."""
        if self.state is StreamState.OPEN and not self._stopped:
            self._queue.put_nowait((message, action, request_id))
            self.conn.in_flight += 1
        elif self.state is StreamState.CONNECTING:
            self._pending.append((message, action, request_id))
            self.conn.in_flight += 1
        elif self.state is StreamState.REFUSED:
            self.conn.refuse_frame(
                self.name, 403, REFUSED_MESSAGE.format(name=self.name), action, request_id
            )
        else:
            self.conn.refuse_frame(
                self.name, 410, CLOSED_MESSAGE.format(name=self.name), action, request_id
            )

    def stop(self, code: int) -> None:
        """Make the child's next ``receive()`` return ``websocket.disconnect``."""
        if self._stopped:
            return
        self._stopped = True
        self._stop_code = code
        self._cancel_timer()
        self._answer_waiting(None)
        self._queue.put_nowait(_WAKE)

    @property
    def settled(self) -> bool:
        return self.state is not StreamState.CONNECTING

    # --------------------------------------------------------- ASGI for child
    async def receive(self) -> Message:
        if self._connect_pending:
            self._connect_pending = False
            return {"type": "websocket.connect"}
        while True:
            if self._stopped:
                self.disconnect_delivered = True
                return {"type": "websocket.disconnect", "code": self._stop_code}
            item = await self._queue.get()
            if item is _WAKE:
                continue
            message, action, request_id = item
            self.conn.in_flight -= 1
            self._current = (action, request_id)
            return message

    async def send(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "websocket.send":
            self._send_frame(message)
            await self.conn.yield_to_writer()
        elif kind == "websocket.accept":
            if self.state is StreamState.CONNECTING:
                self._open()
        elif kind == "websocket.close":
            code = message.get("code") or 1000
            if self.state is StreamState.CONNECTING:
                self._refuse("closed during connect", code)
            elif self.state is StreamState.OPEN:
                self._close(code, "closed itself")
        elif kind == "websocket.http.response.start":
            # The denial-response extension: an HTTP answer instead of accepting.
            if self.state is StreamState.CONNECTING:
                self._refuse("denied the connection", 1000)
        elif kind == "websocket.http.response.body":
            pass
        else:
            logger.warning(
                "gateway %s: stream %r sent an unknown ASGI message type %r; ignored",
                self.conn.id,
                self.name,
                kind,
            )

    def _send_frame(self, message: Message) -> None:
        if self.state is not StreamState.OPEN or self._stopped or self.conn.closing:
            logger.debug(
                "gateway %s: stream %r sent while not open; dropped", self.conn.id, self.name
            )
            return
        if "json" in message:
            payload = message["json"]
            try:
                frame = encode_frame(self.name, payload, self.conn.options.json_encoder)
            except (TypeError, ValueError, RecursionError):
                logger.exception(
                    "gateway %s: stream %r sent a payload that cannot be encoded as JSON",
                    self.conn.id,
                    self.name,
                )
                action, request_id = readable_meta(payload)
                self.conn.push_frame(
                    encode_error(self.name, INTERNAL_ERROR_MESSAGE, 500, action, request_id)
                )
                return
            self.conn.push_frame(frame)
            if isinstance(payload, dict):
                if metrics.ENABLED:
                    metrics.frame_out(
                        self.name,
                        metrics.action_label(self.route.consumer_class, payload.get("action")),
                        payload.get("response_status"),
                    )
                if self.conn._awaiting:
                    self.conn.answered(
                        self.name, payload.get("request_id"), payload.get("response_status")
                    )
        elif message.get("text") is not None:
            spliced = splice_frame(self.name, message["text"])
            if spliced is None:
                self.conn.count_drop(
                    "gateway %s: stream %r sent text that is not JSON; dropped", self.name
                )
                return
            self.conn.push_frame(spliced)
            if metrics.ENABLED:
                metrics.frame_out(self.name, metrics.OTHER, None)
        else:
            # Frames are JSON text; there is no way to carry bytes inside one.
            self.conn.count_drop(
                "gateway %s: stream %r sent a binary frame; the gateway carries JSON only, dropped",
                self.name,
            )

    # ------------------------------------------------------------ transitions
    def _open(self) -> None:
        self.state = StreamState.OPEN
        metrics.stream_started(self.name)
        self._cancel_timer()
        pending, self._pending = self._pending, []
        for item in pending:
            self._queue.put_nowait(item)
        self.conn.stream_settled(self)

    def _refuse(self, why: str, code: int) -> None:
        self.state = StreamState.REFUSED
        logger.info("gateway %s: stream %r %s", self.conn.id, self.name, why)
        self._answer_waiting(403)
        self.stop(code)
        self.conn.stream_settled(self)

    def _close(self, code: int, why: str) -> None:
        self.state = StreamState.CLOSED
        metrics.stream_ended(self.name)
        # Streams ending because the connection ends are routine: DEBUG only.
        logger.log(
            logging.DEBUG if self.conn.closing else logging.INFO,
            "gateway %s: stream %r %s (code %s)",
            self.conn.id,
            self.name,
            why,
            code,
        )
        self._answer_waiting(410)
        self.stop(code)
        self.conn.stream_settled(self)

    def _answer_waiting(self, status: int | None) -> None:
        """Take every frame the child has not taken; answer them unless ``status`` is None."""
        items = self._pending
        self._pending = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not _WAKE:
                items.append(item)
        self.conn.in_flight -= len(items)
        if status is None or self.conn.closing:
            return
        template = REFUSED_MESSAGE if status == 403 else CLOSED_MESSAGE
        for _message, action, request_id in items:
            self.conn.refuse_frame(
                self.name, status, template.format(name=self.name), action, request_id
            )

    def _connect_timed_out(self) -> None:
        self._timer = None
        if self.state is not StreamState.CONNECTING:
            return
        logger.warning(
            "gateway %s: stream %r did not accept within %ss; refused and cancelled",
            self.conn.id,
            self.name,
            self.conn.options.stream_connect_timeout,
        )
        self._refuse("timed out while connecting", 1011)
        self.task.cancel()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            logger.error(
                "gateway %s: stream %r failed while %s",
                self.conn.id,
                self.name,
                "connecting" if self.state is StreamState.CONNECTING else "handling a message",
                exc_info=exc,
            )
        if self.state is StreamState.CONNECTING:
            self._refuse("ended without accepting", 1011)
        elif self.state is StreamState.OPEN:
            if exc is not None and self._current is not None and not self.conn.closing:
                # The client can pair this with the last frame the stream took.
                action, request_id = self._current
                self.conn.push_frame(
                    encode_error(self.name, INTERNAL_ERROR_MESSAGE, 500, action, request_id)
                )
            self._close(1011 if exc is not None else 1000, "ended")
        else:
            self._cancel_timer()
        if (exc is not None or task.cancelled()) and not self.disconnect_delivered:
            self.conn.spawn_cleanup(self.cleanup(self._stop_code))
        _forget_channel(self.instance)

    async def cleanup(self, code: int) -> None:
        """Run the consumer's disconnect handling after it crashed or was cancelled.

        A consumer interrupted mid-action never reaches ``websocket_disconnect``,
        which is where Channels consumers leave their groups and cancel their
        background tasks; run it now so that nothing outlives the connection.
        Only possible for consumer instances the gateway created itself.
        """
        instance = self.instance
        if instance is None or not hasattr(instance, "channel_layer"):
            return
        try:
            await instance.dispatch({"type": "websocket.disconnect", "code": code})
        except StopConsumer:
            pass
        except Exception:
            logger.exception(
                "gateway %s: stream %r failed to clean up after ending abnormally",
                self.conn.id,
                self.name,
            )


def _forget_channel(instance: Any) -> None:
    """Drop the channel layer's receive buffer of a consumer that has ended.

    channels_redis keeps one per process-local channel and leaves it behind
    when a receive is cancelled inside its Redis read, which is how Channels
    stops a consumer: a queue leaked per closed stream. Nobody receives on the
    channel once the consumer's task is done. (``receive_buffer`` is
    channels_redis's; other layers do not have it.)
    """
    buffers = getattr(getattr(instance, "channel_layer", None), "receive_buffer", None)
    channel_name = getattr(instance, "channel_name", None)
    if isinstance(buffers, dict) and isinstance(channel_name, str):
        buffers.pop(channel_name, None)
