"""gateway.tracing with the OpenTelemetry SDK's in-memory exporter: a span per
connection, a child span per action with its stream, action and status, and
observer deliveries linked to the span of the write that caused them.

The tracer provider is process-global and can be set once; the first test to
need it sets it, and each test clears the exporter."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User

from gateway import Gateway
from gateway.testing import GatewayCommunicator
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from tests.streams.observer.support import APP, db, open_client
from tests.testapp.models_observer import ObsItem

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

EXPORTER = InMemorySpanExporter()


@pytest.fixture(autouse=True)
def spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    if not getattr(provider, "_gateway_test_exporter", False):
        provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
        provider._gateway_test_exporter = True  # type: ignore[attr-defined]
    EXPORTER.clear()
    yield EXPORTER
    EXPORTER.clear()


class TracedConsumer(AsyncAPIConsumer):
    @action()
    async def ping(self, **kwargs: Any) -> tuple[str, int]:
        return "pong", 200

    @action()
    async def nap(self, **kwargs: Any) -> tuple[None, int]:
        await asyncio.sleep(30)
        return None, 200

    @action()
    async def fail(self, **kwargs: Any) -> tuple[None, int]:
        raise RuntimeError("boom (test)")


class TracedGateway(Gateway):
    streams = {"t": TracedConsumer}


def named(exporter: InMemorySpanExporter, name: str) -> list[Any]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


async def test_an_action_span_is_a_child_of_the_connection_span(spans):
    async with GatewayCommunicator(TracedGateway.as_asgi(), "/ws/") as comm:
        await comm.send_to("t", {"action": "ping", "request_id": 1})
        assert (await comm.receive_from("t", request_id=1))["response_status"] == 200
        await comm.send_to("t", {"action": "fail", "request_id": 2})
        assert (await comm.receive_from("t", request_id=2))["response_status"] == 500
        await comm.send_to("t", {"action": "no-such-thing", "request_id": 3})
        assert (await comm.receive_from("t", request_id=3))["response_status"] == 405
    (connection,) = named(spans, "gateway.connection")
    assert connection.attributes["gateway.class"] == "TracedGateway"
    assert connection.attributes["url.path"] == "/ws/"
    assert connection.attributes["gateway.close_code"] == 1000
    actions = named(spans, "gateway.action")
    summary = sorted(
        (s.attributes["gateway.action"], s.attributes["gateway.status"], s.status.is_ok)
        for s in actions
    )
    # The unknown name is recorded as "other": attributes stay bounded too.
    assert summary == [("fail", 500, False), ("other", 405, True), ("ping", 200, True)]
    for span in actions:
        assert span.parent is not None
        assert span.parent.span_id == connection.context.span_id
        assert span.context.trace_id == connection.context.trace_id
        assert span.attributes["gateway.stream"] == "t"


async def test_a_request_the_connection_never_answered_still_ends_its_span(spans):
    comm = GatewayCommunicator(TracedGateway.as_asgi())
    await comm.connect()
    await comm.send_to("t", {"action": "nap", "request_id": 1})
    await comm.send_to("nope", {"action": "ping", "request_id": 2})  # 404: never routed
    await comm.receive_frame()
    await comm.disconnect()  # the nap is cut short
    (span,) = named(spans, "gateway.action")
    assert span.attributes["gateway.action"] == "nap"
    assert "gateway.status" not in span.attributes
    assert len(named(spans, "gateway.connection")) == 1


@pytest.mark.django_db(transaction=True)
async def test_observer_delivery_is_linked_to_the_write(layer, spans):
    alice = await db(User.objects.create_user)("alice-tracing")
    item = await db(ObsItem.objects.create)(name="t")
    client = await open_client(APP, user=alice)
    try:
        payload = {"action": "subscribe_instance", "pk": item.pk, "request_id": "s"}
        await client.send_to("items", payload)
        assert (await client.receive_from("items", request_id="s"))["response_status"] == 201

        def write() -> str:
            with trace.get_tracer("test").start_as_current_span("the write") as span:
                ObsItem.objects.filter(pk=item.pk).update(count=7)
                return format(span.get_span_context().span_id, "016x")

        writer_span = await db(write)()
        assert (await client.receive_from("items", request_id="s"))["action"] == "update"
    finally:
        await client.disconnect()
    deliveries = named(spans, "streams.observer.deliver")
    assert deliveries, [s.name for s in spans.get_finished_spans()]
    linked = {format(link.context.span_id, "016x") for d in deliveries for link in d.links}
    assert writer_span in linked


def test_without_opentelemetry_the_hooks_are_no_ops():
    script = """
import sys
sys.modules["opentelemetry"] = None  # as if not installed
from gateway import tracing
assert not tracing.ENABLED
assert tracing.connection_started("G", "/") is None
tracing.connection_ended(None, 1000)
assert tracing.action_started("s", "a") is None
tracing.action_ended(None, 200)
message = {"type": "x"}
tracing.inject(message)
with tracing.delivery(message, "Observer"):
    pass
print(sorted(message))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["['type']"]


def test_deliveries_make_no_span_until_a_tracer_provider_is_set():
    """Without a provider the API's spans record nothing: deliveries skip them
    (their cost showed in fan-out profiles); once one is set, they are made."""
    code = (
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from gateway import tracing\n"
        "assert tracing.ENABLED and not tracing.delivering()\n"
        "trace.set_tracer_provider(TracerProvider())\n"
        "assert tracing.delivering()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
