"""Client frames in: check each one, route it to its stream or answer it with an error.

:class:`FrameIntake` is the part of :class:`gateway.Gateway` that takes the
client's text frames. A frame is decoded once, checked against the limits
(size, depth, rate, requests in flight), and queued to its stream's handle;
anything refused is answered with an error frame carrying the frame's
``action`` and ``request_id``, never with an exception that would close the
socket. A client that keeps sending malformed frames is closed with 1008.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from gateway import metrics
from gateway.asgi import Message
from gateway.frames import ECHO_LIMIT, FrameError, decode_frame, encode_error, sniff_stream
from gateway.ledger import ReplyLedger
from gateway.ratelimit import FrameRate, wait_message

if TYPE_CHECKING:
    from gateway.options import GatewayOptions
    from gateway.routing import Route, RouteTable
    from gateway.stream import StreamHandle

__all__ = ["BINARY_FRAME", "RESTARTING", "TOO_MANY_IN_FLIGHT", "WARNING_BUDGET", "FrameIntake"]

logger = logging.getLogger("gateway.gateway")

#: Refused or dropped frames logged at WARNING per connection; the rest go to
#: DEBUG so that a hostile client cannot flood the logs. The close line counts them all.
WARNING_BUDGET = 20

TOO_MANY_IN_FLIGHT = "Too many requests in flight; wait for replies before sending more."
BINARY_FRAME = "Binary frames are not supported; send JSON text frames."
RESTARTING = "The server is restarting; reconnect and send the request again."


class FrameIntake:
    """Routing and refusing client frames; mixed into :class:`gateway.Gateway`."""

    # The intake's own per-connection state (Gateway.__init__ sets it).
    __slots__ = ("_awaiting", "_bad_frames", "_drops", "_frame_rate", "_frames_in")
    _awaiting: ReplyLedger | None
    _bad_frames: int
    _drops: int
    _frame_rate: FrameRate | None
    _frames_in: int

    # Provided by Gateway (its __slots__ and methods).
    if TYPE_CHECKING:
        id: str
        options: GatewayOptions
        routes: RouteTable
        closing: bool
        draining: bool
        in_flight: int
        _trace: Any
        _started: dict[str, StreamHandle]

        def _start(self, route: Route) -> StreamHandle: ...
        def _close_socket(self, code: int) -> None: ...
        def push_frame(self, text: str) -> None: ...
        def answered(self, stream: str | None, request_id: Any, status: Any = None) -> None: ...

    def _on_frame(self, message: Message) -> bool:
        """Route one client frame; True when it was queued to a stream."""
        self._frames_in += 1
        if self.closing:
            return False
        text = message.get("text")
        if text is None:
            self._protocol_error(None, BINARY_FRAME, 400)
            return False
        limit = self.options.max_frame_bytes
        if len(text) > limit or (
            len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit
        ):
            self._protocol_error(sniff_stream(text), f"Frame is larger than {limit} bytes.", 413)
            return False
        try:
            frame = decode_frame(text, max_depth=self.options.max_json_depth)
        except FrameError as exc:
            self._protocol_error(exc.stream, exc.message, exc.status, exc.action, exc.request_id)
            return False
        self._bad_frames = 0
        name = frame.stream
        route = self.routes.get(name)
        if route is None:
            echoed = name if len(name) <= ECHO_LIMIT else None
            shown = name if len(name) <= 100 else name[:100] + "..."
            self.refuse_frame(
                echoed, 404, f"Unknown stream {shown!r}.", frame.action, frame.request_id
            )
            return False
        if self.draining:
            self.refuse_frame(name, 503, RESTARTING, frame.action, frame.request_id)
            return False
        rate = self.options.max_frames_per_second
        if rate is not None:
            bucket = self._frame_rate
            if bucket is None:
                bucket = self._frame_rate = FrameRate(rate, self.options.frame_burst)
            wait = bucket.take()
            if wait:
                self.refuse_frame(name, 429, wait_message(wait), frame.action, frame.request_id)
                return False
        if self.in_flight >= self.options.max_in_flight:
            self.refuse_frame(name, 429, TOO_MANY_IN_FLIGHT, frame.action, frame.request_id)
            return False
        label = metrics.OTHER
        if metrics.ENABLED:
            label = metrics.action_label(route.consumer_class, frame.action)
            metrics.frame_in(name, label)
        handle = self._started.get(name) or self._start(route)
        if route.accepts_json:
            child_message = {"type": "websocket.receive", "json": frame.payload}
        else:
            child_message = {"type": "websocket.receive", "text": json.dumps(frame.payload)}
        handle.deliver(child_message, frame.action, frame.request_id)
        if frame.request_id is not None and route.accepts_json:
            if self._awaiting is None:
                self._awaiting = ReplyLedger()
            self._awaiting.expect(name, frame.request_id, label, self._trace is not None)
        return True

    def _protocol_error(
        self,
        stream: str | None,
        message: str,
        status: int,
        action: str | None = None,
        request_id: Any = None,
    ) -> None:
        self.refuse_frame(stream, status, message, action, request_id)
        self._bad_frames += 1
        limit = self.options.max_bad_frames
        if limit is not None and self._bad_frames >= limit:
            logger.warning(
                "gateway %s: %d malformed frames in a row; closing with 1008", self.id, limit
            )
            self._close_socket(1008)

    def refuse_frame(
        self,
        stream: str | None,
        status: int,
        message: str,
        action: str | None = None,
        request_id: Any = None,
    ) -> None:
        """Answer a frame with an error frame (and log it, without its payload)."""
        self.count_drop(
            "gateway %s: frame for stream %.100r refused with %s: %s", stream, status, message
        )
        self.push_frame(encode_error(stream, message, status, action, request_id))
        if metrics.ENABLED:
            metrics.refused(
                stream if stream is not None and stream in self.routes else metrics.OTHER, status
            )
        if self._awaiting:
            self.answered(stream, request_id, status)

    def count_drop(self, template: str, *args: Any) -> None:
        """Log a refused or dropped frame at WARNING, within the connection's budget."""
        self._drops += 1
        if self._drops <= WARNING_BUDGET:
            logger.warning(template, self.id, *args)
            if self._drops == WARNING_BUDGET:
                logger.warning(
                    "gateway %s: further refused or dropped frames are logged at DEBUG", self.id
                )
        else:
            logger.debug(template, self.id, *args)
