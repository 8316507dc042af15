"""Prometheus metrics: every metric the package records, in one module.

The hot paths call the small functions below (``frame_in``, ``reply``...).
Without ``prometheus-client`` installed (the ``metrics`` extra) they are
no-ops: each checks one module global and returns, so the package costs
nothing it does not use. With it installed the families are registered on
``prometheus_client.REGISTRY`` when this module is imported, and
:class:`MetricsView` serves them.

Label values are bounded, because every distinct value is a time series kept
forever: ``stream`` is a name from a gateway's route table (frames for unknown
streams count as ``other``); ``action`` is a name from the stream consumer's
action registry (``Consumer.actions``), anything else (a typo, an attack, a
consumer without a registry) is ``other``; ``status`` is an HTTP-like status
between 100 and 599, else ``other``; ``gateway`` is the gateway class name and
``reason`` one of a fixed set. No user ids, pks or request ids, ever.

Multi-process servers (``uvicorn --workers N``, several daphne processes)
need ``PROMETHEUS_MULTIPROC_DIR`` set to an empty directory shared by the
processes, before they start: prometheus-client then writes every process's
samples there and :class:`MetricsView` aggregates them (gauges of open
connections and streams are summed over the live processes). The thread-pool
queue depth is then reported by the process that serves the scrape only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views import View

try:
    import prometheus_client
    from prometheus_client.core import GaugeMetricFamily
except ImportError:  # the `metrics` extra is not installed
    prometheus_client = None  # type: ignore[assignment]

__all__ = [
    "OTHER",
    "MetricsView",
    "enabled",
]

#: The label value every name outside the bounded sets collapses to.
OTHER = "other"

#: Why observer messages or outgoing frames were dropped.
DROP_REASONS = frozenset({"no_layer", "layer_error", "layer_full", "outbox_overflow"})

#: Latency buckets (seconds): a cached read is sub-millisecond, a slow write seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

clock = time.perf_counter


class _Families:
    """The metric families, created once per process when prometheus-client is present."""

    def __init__(self) -> None:
        assert prometheus_client is not None
        counter, gauge, histogram = (
            prometheus_client.Counter,
            prometheus_client.Gauge,
            prometheus_client.Histogram,
        )
        self.connections = gauge(
            "gateway_connections_open",
            "Open gateway websocket connections.",
            ["gateway"],
            multiprocess_mode="livesum",
        )
        self.streams = gauge(
            "gateway_streams_open",
            "Started streams on open connections.",
            ["stream"],
            multiprocess_mode="livesum",
        )
        self.frames_in = counter(
            "gateway_frames_in", "Client frames routed to a stream.", ["stream", "action"]
        )
        self.frames_out = counter(
            "gateway_frames_out", "Frames sent to clients by streams.", ["stream", "action"]
        )
        self.replies = counter(
            "gateway_replies",
            "Frames sent with a response_status, gateway error frames included.",
            ["stream", "status"],
        )
        self.latency = histogram(
            "gateway_action_latency_seconds",
            "From routing a request to the first frame carrying its request_id.",
            ["stream", "action"],
            buckets=LATENCY_BUCKETS,
        )
        self.closes = counter(
            "gateway_server_closes", "Sockets closed by the server, by close code.", ["code"]
        )
        self.observer_sent = counter(
            "streams_observer_messages_sent", "Observer messages handed to the channel layer."
        )
        self.observer_delivered = counter(
            "streams_observer_pushes_delivered", "Observer pushes sent to subscribers."
        )
        self.observer_denied = counter(
            "streams_observer_pushes_denied",
            "Observer events withheld from a subscriber by its permissions.",
        )
        self.dropped = counter(
            "streams_dropped",
            "Observer messages or outgoing frames dropped, by reason.",
            ["reason"],
        )
        self.layer_errors = counter(
            "streams_channel_layer_errors",
            "Channel-layer operations that failed.",
            ["operation"],
        )
        self.layer_retries = counter(
            "streams_channel_layer_retries",
            "Retries of a consumer's channel-layer receive after a failure.",
        )


class _ProbeCollector:
    """Values read at scrape time (no cost in the hot path): queue depths."""

    def __init__(self) -> None:
        self.probes: dict[str, Callable[[], int]] = {}

    def collect(self) -> Iterator[Any]:
        family = GaugeMetricFamily(
            "streams_action_thread_queue_depth",
            "Sync action calls waiting for a thread of the action pool (this process).",
            labels=["pool"],
        )
        for name, probe in sorted(self.probes.items()):
            try:
                family.add_metric([name], probe())
            except Exception:  # a probe must never break a scrape
                continue
        yield family


_families: _Families | None = None
_probes: _ProbeCollector | None = None
if prometheus_client is not None:
    _families = _Families()
    _probes = _ProbeCollector()
    prometheus_client.REGISTRY.register(_probes)

#: Checked by the hot paths before computing labels.
ENABLED = _families is not None


def enabled() -> bool:
    """Are metrics being recorded (prometheus-client installed)?"""
    return _families is not None


# --------------------------------------------------------------- labels
def action_label(consumer_class: Any, action: Any) -> str:
    """``action`` when the consumer's action registry has it, else ``other``."""
    if not isinstance(action, str):
        return OTHER
    registry = getattr(consumer_class, "actions", None)
    try:
        return action if registry is not None and action in registry else OTHER
    except TypeError:
        return OTHER


def status_label(status: Any) -> str:
    if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
        return str(status)
    return OTHER


# ---------------------------------------------------------------- hooks
def connection_opened(gateway: str) -> None:
    if _families is not None:
        _families.connections.labels(gateway).inc()


def connection_closed(gateway: str) -> None:
    if _families is not None:
        _families.connections.labels(gateway).dec()


def stream_started(stream: str) -> None:
    if _families is not None:
        _families.streams.labels(stream).inc()


def stream_ended(stream: str) -> None:
    if _families is not None:
        _families.streams.labels(stream).dec()


def frame_in(stream: str, action: str) -> None:
    if _families is not None:
        _families.frames_in.labels(stream, action).inc()


def frame_out(stream: str, action: str, status: Any) -> None:
    if _families is not None:
        _families.frames_out.labels(stream, action).inc()
        if status is not None:
            _families.replies.labels(stream, status_label(status)).inc()


def refused(stream: str, status: int) -> None:
    """A gateway error frame (404, 429, 503...), counted with the replies."""
    if _families is not None:
        _families.replies.labels(stream, status_label(status)).inc()


def action_latency(stream: str, action: str, seconds: float) -> None:
    if _families is not None:
        _families.latency.labels(stream, action).observe(seconds)


def server_closed(code: int) -> None:
    if _families is not None:
        _families.closes.labels(str(code) if 1000 <= code <= 4999 else OTHER).inc()


def observer_sent(count: int) -> None:
    if _families is not None and count:
        _families.observer_sent.inc(count)


def observer_delivered() -> None:
    if _families is not None:
        _families.observer_delivered.inc()


def observer_denied() -> None:
    if _families is not None:
        _families.observer_denied.inc()


def dropped(reason: str, count: int = 1) -> None:
    if _families is not None and count:
        _families.dropped.labels(reason if reason in DROP_REASONS else OTHER).inc(count)


def layer_error(operation: str) -> None:
    if _families is not None:
        _families.layer_errors.labels(operation).inc()


def layer_retry() -> None:
    if _families is not None:
        _families.layer_retries.inc()


def register_queue_probe(name: str, probe: Callable[[], int]) -> None:
    """Report ``probe()`` as the queue depth of pool ``name`` at each scrape."""
    if _probes is not None:
        _probes.probes[name] = probe


# ------------------------------------------------------------------ view
def _registry() -> Any:
    assert prometheus_client is not None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return prometheus_client.REGISTRY
    from prometheus_client import multiprocess

    registry = prometheus_client.CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    if _probes is not None:
        registry.register(_probes)
    return registry


class MetricsView(View):
    """``GET``: the metrics in Prometheus' text format; 501 without prometheus-client.

    Mount it where only the Prometheus server can reach it (an internal port,
    a network policy, or a decorator checking credentials): the numbers say
    how busy the service is, which is nobody else's business.
    """

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        if prometheus_client is None:
            return HttpResponse(
                "prometheus-client is not installed: pip install 'channels-gateway[metrics]'\n",
                status=501,
                content_type="text/plain",
            )
        return HttpResponse(
            prometheus_client.generate_latest(_registry()),
            content_type=prometheus_client.CONTENT_TYPE_LATEST,
        )


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    """The current value of one sample in this process (0 when absent); for tests."""
    if prometheus_client is None:
        return 0.0
    value = prometheus_client.REGISTRY.get_sample_value(name, labels or {})
    return float(value or 0.0)
