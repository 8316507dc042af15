"""Sending: a missing or failing channel layer never breaks the write."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings

from streams.observer import sending
from tests.stacks import in_memory_layer_only


class FailingLayer:
    def __init__(self):
        self.calls = 0

    async def group_send(self, group, message):
        self.calls += 1
        raise ConnectionError("redis is down")


async def test_failing_layer_logs_once_and_stops(monkeypatch, caplog):
    layer = FailingLayer()
    monkeypatch.setattr(sending, "get_channel_layer", lambda: layer)
    with caplog.at_level(logging.ERROR, logger="streams.observer.sending"):
        sent = await sending.send_to_groups([("g1", {"type": "x"}), ("g2", {"type": "x"})])
    assert sent == 0 and layer.calls == 1
    assert "2 observer message(s) of this commit dropped" in caplog.text


async def test_no_layer_configured(caplog):
    with override_settings(CHANNEL_LAYERS={}):
        assert await sending.send_to_groups([("g", {"type": "x"})]) == 0
    assert "no channel layer is configured" in caplog.text


def test_send_from_sync_without_loop(monkeypatch):
    sent = []

    class Layer:
        async def group_send(self, group, message):
            sent.append(group)

    monkeypatch.setattr(sending, "get_channel_layer", lambda: Layer())
    sending.send_from_sync([("g", {"type": "x"})])
    sending.send_from_sync([])
    assert sent == ["g"]


@pytest.mark.django_db(transaction=True)
def test_write_succeeds_while_the_layer_fails(monkeypatch):
    from tests.testapp.models_observer import ObsItem

    monkeypatch.setattr(sending, "get_channel_layer", lambda: FailingLayer())
    item = ObsItem.objects.create(name="still saved")
    assert ObsItem.objects.filter(pk=item.pk).exists()


@in_memory_layer_only
async def test_group_probe_reads_the_in_memory_layer():
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    await layer.flush()
    probe = sending.group_probe()
    assert probe is not None and not probe.any() and not probe("g")
    await layer.group_add("g", "some.channel")
    assert probe.any() and probe("g") and not probe("other")
    await layer.flush()  # the layer replaces its dicts: the probe reads them afresh
    assert not probe.any()


def test_group_probe_refuses_layers_with_members_elsewhere(monkeypatch):
    from channels.layers import InMemoryChannelLayer

    class Forwarding(InMemoryChannelLayer):
        async def group_send(self, group, message):  # e.g. also to another process
            pass

    monkeypatch.setattr(sending, "get_channel_layer", lambda: Forwarding())
    assert sending.group_probe() is None
    monkeypatch.setattr(sending, "get_channel_layer", lambda: FailingLayer())
    assert sending.group_probe() is None
    monkeypatch.setattr(sending, "get_channel_layer", lambda: None)
    assert sending.group_probe() is None
