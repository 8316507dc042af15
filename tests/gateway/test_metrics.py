"""gateway.metrics through the wire: each family moves when the thing it
counts happens, labels stay within the route table and the action registry,
the view serves them, and the package works without prometheus-client.

Counters are process-wide, so each test reads them before and after."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import RequestFactory, override_settings

from gateway import Gateway, metrics
from gateway.testing import GatewayCommunicator
from streams import threads
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.observer import sending
from tests.gateway.consumers import JsonEchoConsumer
from tests.streams.observer.support import APP, db, open_client
from tests.testapp.models_observer import ObsItem

pytest.importorskip("prometheus_client")


class MeteredConsumer(AsyncAPIConsumer):
    @action()
    async def ping(self, **kwargs: Any) -> tuple[str, int]:
        return "pong", 200

    @action()
    async def join(self, group: str, **kwargs: Any) -> tuple[None, int]:
        await self.add_group(group)
        return None, 200

    @action()
    async def nap(self, seconds: float, **kwargs: Any) -> tuple[None, int]:
        await asyncio.sleep(seconds)
        return None, 200


class MeteredGateway(Gateway):
    streams = {"m": MeteredConsumer}


def value(name: str, **labels: str) -> float:
    return metrics.sample(name, labels)


class Delta:
    """Sample values before a block; ``delta(name, **labels)`` after it."""

    def __init__(self) -> None:
        self.before: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    def watch(self, name: str, **labels: str) -> None:
        self.before[(name, tuple(sorted(labels.items())))] = value(name, **labels)

    def delta(self, name: str, **labels: str) -> float:
        return value(name, **labels) - self.before[(name, tuple(sorted(labels.items())))]


async def request(comm: GatewayCommunicator, stream: str, payload: dict[str, Any]) -> Any:
    await comm.send_to(stream, payload)
    return await comm.receive_from(stream, request_id=payload["request_id"], timeout=3)


async def test_connections_and_streams_open_are_gauges():
    gateway = MeteredGateway.__qualname__
    before = value("gateway_connections_open", gateway=gateway)
    streams_before = value("gateway_streams_open", stream="m")
    comm = GatewayCommunicator(MeteredGateway.as_asgi())
    await comm.connect()
    assert value("gateway_connections_open", gateway=gateway) == before + 1
    await request(comm, "m", {"action": "ping", "request_id": 1})
    assert value("gateway_streams_open", stream="m") == streams_before + 1
    await comm.disconnect()
    assert value("gateway_connections_open", gateway=gateway) == before
    assert value("gateway_streams_open", stream="m") == streams_before


async def test_frames_replies_and_latency_by_stream_action_and_status():
    d = Delta()
    d.watch("gateway_frames_in_total", stream="m", action="ping")
    d.watch("gateway_frames_out_total", stream="m", action="ping")
    d.watch("gateway_replies_total", stream="m", status="200")
    d.watch("gateway_action_latency_seconds_count", stream="m", action="nap")
    d.watch("gateway_action_latency_seconds_sum", stream="m", action="nap")
    async with GatewayCommunicator(MeteredGateway.as_asgi()) as comm:
        for request_id in range(3):
            await request(comm, "m", {"action": "ping", "request_id": request_id})
        await request(comm, "m", {"action": "nap", "seconds": 0.1, "request_id": "n"})
    assert d.delta("gateway_frames_in_total", stream="m", action="ping") == 3
    assert d.delta("gateway_frames_out_total", stream="m", action="ping") == 3
    assert d.delta("gateway_replies_total", stream="m", status="200") == 4
    assert d.delta("gateway_action_latency_seconds_count", stream="m", action="nap") == 1
    assert d.delta("gateway_action_latency_seconds_sum", stream="m", action="nap") >= 0.1


async def test_names_outside_the_registry_and_route_table_collapse_to_other():
    d = Delta()
    d.watch("gateway_frames_in_total", stream="m", action="other")
    d.watch("gateway_replies_total", stream="m", status="405")
    d.watch("gateway_replies_total", stream="other", status="404")
    async with GatewayCommunicator(MeteredGateway.as_asgi()) as comm:
        for index in range(5):
            reply = await request(comm, "m", {"action": f"evil-{index}", "request_id": index})
            assert reply["response_status"] == 405
            await comm.send_to(f"nope-{index}", {"action": "ping", "request_id": index})
            assert (await comm.receive_frame())["payload"]["response_status"] == 404
    assert d.delta("gateway_frames_in_total", stream="m", action="other") == 5
    assert d.delta("gateway_replies_total", stream="m", status="405") == 5
    assert d.delta("gateway_replies_total", stream="other", status="404") == 5
    exposed = metrics.MetricsView.as_view()(RequestFactory().get("/metrics")).content.decode()
    assert "evil-" not in exposed
    assert "nope-" not in exposed


async def test_slow_reader_close_and_dropped_frames_are_counted():
    d = Delta()
    d.watch("gateway_server_closes_total", code="1013")
    d.watch("streams_dropped_total", reason="outbox_overflow")
    app = Gateway.as_asgi(streams={"echo": JsonEchoConsumer}, max_outbound_bytes=5000)
    comm = GatewayCommunicator(app, max_unread=2)
    await comm.connect()
    await comm.send_to("echo", {"action": "burst", "count": 1000, "request_id": 1})
    await asyncio.sleep(0.05)  # the client is not reading
    assert await comm.receive_close(timeout=5) == 1013
    await comm.disconnect()
    assert d.delta("gateway_server_closes_total", code="1013") == 1
    assert d.delta("streams_dropped_total", reason="outbox_overflow") >= 1


@pytest.mark.django_db(transaction=True)
async def test_observer_sent_delivered_and_denied(layer):
    d = Delta()
    for name in (
        "streams_observer_messages_sent_total",
        "streams_observer_pushes_delivered_total",
        "streams_observer_pushes_denied_total",
    ):
        d.watch(name)
    alice = await db(User.objects.create_user)("alice-metrics")
    bob = await db(User.objects.create_user)("bob-metrics")
    item = await db(ObsItem.objects.create)(name="m")
    as_alice = await open_client(APP, user=alice)
    as_bob = await open_client(APP, user=bob)
    try:
        for client, rid in ((as_alice, "a"), (as_bob, "b")):
            payload = {"action": "subscribe_instance", "pk": item.pk, "request_id": rid}
            assert (await request(client, "items", payload))["response_status"] == 201
        item.owner = alice
        await db(item.save)()
        assert (await as_alice.receive_from("items", request_id="a"))["action"] == "update"
        await as_bob.assert_no_frames(0.2)
    finally:
        await as_alice.disconnect()
        await as_bob.disconnect()
    assert d.delta("streams_observer_messages_sent_total") >= 1
    assert d.delta("streams_observer_pushes_delivered_total") == 1
    assert d.delta("streams_observer_pushes_denied_total") == 1


@override_settings(CHANNEL_LAYERS={})
async def test_observer_messages_without_a_layer_are_dropped_and_counted():
    d = Delta()
    d.watch("streams_dropped_total", reason="no_layer")
    assert await sending.send_to_groups([("g1", {"type": "x"}), ("g2", {"type": "x"})]) == 0
    assert d.delta("streams_dropped_total", reason="no_layer") == 2


class BrokenLayer:
    """A layer whose every operation fails, as Redis refusing connections does."""

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        raise ConnectionError("layer down (test)")


async def test_layer_errors_on_send_are_counted(monkeypatch):
    d = Delta()
    d.watch("streams_channel_layer_errors_total", operation="group_send")
    d.watch("streams_dropped_total", reason="layer_error")
    monkeypatch.setattr(sending, "get_channel_layer", lambda *a: BrokenLayer())
    monkeypatch.setattr(sending.history, "store_for", lambda layer: None)
    assert await sending.send_to_groups([("g1", {"type": "x"}), ("g2", {"type": "x"})]) == 0
    assert d.delta("streams_channel_layer_errors_total", operation="group_send") == 1
    assert d.delta("streams_dropped_total", reason="layer_error") == 2


async def test_layer_receive_errors_and_retries_are_counted(layer):
    d = Delta()
    d.watch("streams_channel_layer_errors_total", operation="receive")
    d.watch("streams_channel_layer_retries_total")
    failures = 2
    original = layer.receive

    async def flaky_receive(channel: str) -> Any:
        nonlocal failures
        if failures:
            failures -= 1
            raise ConnectionError("layer down (test)")
        return await original(channel)

    layer.receive = flaky_receive
    try:
        async with GatewayCommunicator(MeteredGateway.as_asgi()) as comm:
            await request(comm, "m", {"action": "join", "group": "g", "request_id": 1})
            async with asyncio.timeout(10):
                # Polled: the metric has no event to wait on.
                while d.delta("streams_channel_layer_retries_total") < 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
    finally:
        del layer.receive
    assert d.delta("streams_channel_layer_errors_total", operation="receive") == 2


def test_action_thread_queue_depth_is_read_at_scrape_time():
    release = threading.Event()
    pool = threads.action_executor()
    workers = pool._max_workers
    blockers = [pool.submit(release.wait, 10) for _ in range(workers + 3)]
    try:
        assert value("streams_action_thread_queue_depth", pool="actions") >= 3
    finally:
        release.set()
        for future in blockers:
            future.result(timeout=10)
    assert value("streams_action_thread_queue_depth", pool="actions") == 0


def test_the_view_serves_the_text_format():
    response = metrics.MetricsView.as_view()(RequestFactory().get("/metrics"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    body = response.content.decode()
    for family in (
        "gateway_connections_open",
        "gateway_action_latency_seconds",
        "streams_observer_pushes_denied_total",
        "streams_action_thread_queue_depth",
    ):
        assert family in body


def test_without_prometheus_client_the_hooks_are_no_ops_and_the_view_says_501():
    script = """
import sys
sys.modules["prometheus_client"] = None  # as if not installed
import django
from django.conf import settings
settings.configure(ALLOWED_HOSTS=["*"])
django.setup()
from django.test import RequestFactory
from gateway import metrics
assert not metrics.enabled() and not metrics.ENABLED
metrics.frame_in("s", "a"); metrics.frame_out("s", "a", 200); metrics.dropped("no_layer", 3)
metrics.action_latency("s", "a", 0.1); metrics.layer_retry(); metrics.observer_denied()
metrics.register_queue_probe("actions", lambda: 1)
response = metrics.MetricsView.as_view()(RequestFactory().get("/metrics"))
print(response.status_code, b"pip install" in response.content)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["501", "True"]


def test_multi_process_mode_adds_up_every_process(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    record = """
import django
from django.conf import settings
settings.configure(ALLOWED_HOSTS=["*"])
django.setup()
from gateway import metrics
metrics.frame_in("books", "list")
metrics.frame_in("books", "list")
"""
    scrape = """
import django
from django.conf import settings
settings.configure(ALLOWED_HOSTS=["*"])
django.setup()
from django.test import RequestFactory
from gateway import metrics
print(metrics.MetricsView.as_view()(RequestFactory().get("/metrics")).content.decode())
"""
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", record], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [sys.executable, "-c", scrape], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert 'gateway_frames_in_total{action="list",stream="books"} 4.0' in done.stdout
