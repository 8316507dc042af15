"""The requests of one connection that still wait for a reply.

A request is a client frame carrying a ``request_id`` routed to a stream; its
reply is any frame the stream sends with the same ``request_id`` (or an error
frame the gateway sends for it). The ledger pairs them so that

* a drain before a restart (``gateway.shutdown``) can wait for the requests
  in flight and no longer;
* the action latency metric and the action's tracing span end at the reply.

It is made on the connection's first request: idle sockets do not pay for it.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from gateway import metrics, tracing

__all__ = ["MAX_AWAITING", "ReplyLedger"]

#: Unanswered requests remembered per connection; beyond it (a stream that
#: never replies) new ones are not waited for.
MAX_AWAITING = 1024


class ReplyLedger:
    """(stream, request_id) -> the requests routed and not answered yet, oldest first.

    Each entry is (when it was routed, its action's label, its span or None).
    """

    __slots__ = ("_waiting",)

    def __init__(self) -> None:
        self._waiting: dict[tuple[str | None, Any], list[tuple[float, str, Any]]] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def expect(self, stream: str, request_id: Any, label: str, traced: bool) -> None:
        """A request was routed to ``stream``: remember it until its reply."""
        try:
            key = (stream, request_id)
            waiting = self._waiting.get(key)
            if waiting is None and len(self._waiting) >= MAX_AWAITING:
                return  # a stream that never replies must not grow this forever
            span = tracing.action_started(stream, label) if traced else None
            entry = (metrics.clock() if metrics.ENABLED else 0.0, label, span)
            if waiting is None:
                self._waiting[key] = [entry]
            else:
                waiting.append(entry)
        except TypeError:
            pass  # an unhashable request_id (a JSON object) cannot be matched

    def answered(self, stream: str | None, request_id: Any, status: Any = None) -> None:
        """A frame carrying ``request_id`` was sent on ``stream``: its oldest request is done."""
        if request_id is None:
            return
        try:
            key = (stream, request_id)
            waiting = self._waiting.get(key)
        except TypeError:
            return
        if waiting is None:
            return
        started, label, span = waiting.pop(0)
        if not waiting:
            del self._waiting[key]
        if metrics.ENABLED and stream is not None:
            metrics.action_latency(stream, label, metrics.clock() - started)
        if span is not None:
            tracing.action_ended(span, status)

    def unanswered(self, live: Container[str | None]) -> int:
        """Requests not answered yet among those routed to the ``live`` streams."""
        return sum(len(waiting) for (name, _), waiting in self._waiting.items() if name in live)

    def end_spans(self) -> None:
        """The connection is over: end the spans of requests never answered."""
        for waiting in self._waiting.values():
            for _started, _label, span in waiting:
                if span is not None:
                    tracing.action_ended(span, None)
