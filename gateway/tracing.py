"""OpenTelemetry tracing: every span the package makes, in one module.

With ``opentelemetry-api`` installed (the ``tracing`` extra) and a tracer
provider configured by the application (the SDK and an exporter), the gateway
records:

* ``gateway.connection``: one span per socket, from the handshake to the
  close; the context every stream of the socket runs in, so spans made inside
  consumers (database, HTTP clients...) are its children;
* ``gateway.action``: one span per request carrying a ``request_id``, child of
  the connection span, from routing to the first frame carrying that
  ``request_id``, with the attributes ``gateway.stream``, ``gateway.action``
  (bounded like the metrics' labels) and ``gateway.status``;
* ``streams.observer.deliver``: one span per observer message a consumer
  handles, *linked* to the span that was current where the change was
  written (an HTTP request, an action, a management command...), whose
  context travels in the message's ``trace`` key (W3C trace context).

Without the package every function here returns at its first line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

try:
    from opentelemetry import context as otel_context
    from opentelemetry import propagate, trace
    from opentelemetry.trace import Link, Status, StatusCode
except ImportError:  # the `tracing` extra is not installed
    trace = None  # type: ignore[assignment]

__all__ = ["ENABLED", "MESSAGE_KEY"]

#: Is opentelemetry-api installed?
ENABLED = trace is not None
#: The key of an observer message that carries the writer's trace context.
MESSAGE_KEY = "trace"

_tracer: Any = trace.get_tracer("channels_gateway") if trace is not None else None


# ---------------------------------------------------------- connections
def connection_started(gateway: str, path: Any) -> tuple[Any, Any] | None:
    """Start the connection span and make it current in the caller's task.

    Returns what :func:`connection_ended` needs, or ``None`` (not tracing).
    Stream tasks created afterwards inherit the span as their context.
    """
    if _tracer is None:
        return None
    span = _tracer.start_span(
        "gateway.connection",
        kind=trace.SpanKind.SERVER,
        attributes={"gateway.class": gateway, "url.path": str(path or "")},
    )
    if not span.is_recording():
        return None
    token = otel_context.attach(trace.set_span_in_context(span))
    return span, token


def connection_ended(handle: tuple[Any, Any] | None, code: int | None) -> None:
    if handle is None:
        return
    span, token = handle
    if code is not None:
        span.set_attribute("gateway.close_code", code)
    span.end()
    with contextlib.suppress(ValueError):  # detached in another context already
        otel_context.detach(token)


# --------------------------------------------------------------- actions
def action_started(stream: str, action: str) -> Any:
    """A span for one request, child of the current (connection) span; or None."""
    if _tracer is None:
        return None
    span = _tracer.start_span(
        "gateway.action", attributes={"gateway.stream": stream, "gateway.action": action}
    )
    return span if span.is_recording() else None


def action_ended(span: Any, status: Any) -> None:
    if span is None:
        return
    if isinstance(status, int) and not isinstance(status, bool):
        span.set_attribute("gateway.status", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
    span.end()


# -------------------------------------------------------------- observers
def inject(message: dict[str, Any]) -> None:
    """Put the current span's context in an outgoing observer ``message``."""
    if _tracer is None or not trace.get_current_span().get_span_context().is_valid:
        return
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if carrier:
        message[MESSAGE_KEY] = carrier


def delivering() -> bool:
    """Would a delivery span be recorded? Not while no tracer provider is set.

    Until the application sets one, the API hands out a proxy whose spans
    record nothing, yet starting one and making it current costs several
    context managers: a tenth of a fan-out's time per subscriber (1,000
    subscribers, docs/PERFORMANCE.md). Callers skip :func:`delivery` then.
    """
    if trace is None:
        return False
    return not isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider
    )


@contextlib.contextmanager
def delivery(message: dict[str, Any], observer: str) -> Iterator[None]:
    """A ``streams.observer.deliver`` span around handling ``message``, linked
    to the writer's span when the message carries its context."""
    if _tracer is None:
        yield
        return
    links = []
    carrier = message.get(MESSAGE_KEY)
    if isinstance(carrier, dict):
        writer = trace.get_current_span(propagate.extract(carrier)).get_span_context()
        if writer.is_valid:
            links.append(Link(writer))
    with _tracer.start_as_current_span(
        "streams.observer.deliver",
        links=links,
        attributes={"streams.observer": observer, "streams.group": str(message.get("group"))},
    ):
        yield
