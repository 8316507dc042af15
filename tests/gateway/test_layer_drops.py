"""gateway.layer_drops: events channels_redis drops for full channels are counted and warned.

channels_redis skips a group member whose channel is at capacity and says so
only at INFO. Against a real Redis (both stacks; CI requires it), a group send
to a full channel moves ``streams_dropped_total{reason="layer_full"}`` and logs
a WARNING naming the group, while the other members still get the event; the
filter never shows a record the logging configuration would have hidden.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from channels_redis.core import RedisChannelLayer

from gateway import metrics
from gateway.layer_drops import (
    CHANNELS_REDIS_LOGGER,
    OVER_CAPACITY_FORMAT,
    OverCapacityFilter,
    count_channel_layer_drops,
)
from tests.services import REDIS_HOST, REDIS_PORT, require_redis

pytest.importorskip("prometheus_client")


def dropped_full() -> float:
    return metrics.sample("streams_dropped_total", {"reason": "layer_full"})


def small_layer() -> RedisChannelLayer:
    """A channels_redis layer whose channels hold one message each.

    channels_redis keeps all of one layer instance's channels in one Redis key
    (capacity counts per instance, i.e. per process), so each subscriber below
    gets a layer of its own, as subscribers in two server processes would."""
    return RedisChannelLayer(
        hosts=[{"address": f"redis://{REDIS_HOST}:{REDIS_PORT}", "socket_timeout": 10}],
        prefix=PREFIX,
        capacity=1,
    )


PREFIX = f"cg-test-drops-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def processes() -> AsyncIterator[tuple[RedisChannelLayer, RedisChannelLayer]]:
    require_redis()
    layers = small_layer(), small_layer()
    yield layers
    await layers[0].flush()
    for layer in layers:
        await layer.close_pools()


async def test_a_full_channel_in_a_group_send_is_counted_and_warned(
    processes: tuple[RedisChannelLayer, RedisChannelLayer], caplog: pytest.LogCaptureFixture
) -> None:
    stalled_layer, reading_layer = processes
    stalled, reading = await stalled_layer.new_channel(), await reading_layer.new_channel()
    for channel in (stalled, reading):
        await stalled_layer.group_add("books", channel)
    await stalled_layer.send(stalled, {"type": "first"})  # capacity 1: now full
    before = dropped_full()
    with caplog.at_level(logging.WARNING, logger="gateway.layer_drops"):
        await reading_layer.group_send("books", {"type": "event"})
    assert dropped_full() - before == 1
    warnings = [r for r in caplog.records if r.name == "gateway.layer_drops"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "1 of 2 subscriber channels in group" in warnings[0].getMessage()
    assert "books" in warnings[0].getMessage()
    # The member with room got it; the full one kept only what it had.
    assert (await asyncio.wait_for(reading_layer.receive(reading), 5))["type"] == "event"
    assert (await asyncio.wait_for(stalled_layer.receive(stalled), 5))["type"] == "first"


async def test_a_group_send_with_room_everywhere_counts_nothing(
    processes: tuple[RedisChannelLayer, RedisChannelLayer], caplog: pytest.LogCaptureFixture
) -> None:
    layer = processes[0]
    channel = await layer.new_channel()
    await layer.group_add("books", channel)
    before = dropped_full()
    with caplog.at_level(logging.WARNING, logger="gateway.layer_drops"):
        await layer.group_send("books", {"type": "event"})
    assert dropped_full() == before
    assert not [r for r in caplog.records if r.name == "gateway.layer_drops"]


def record(level: int, msg: str, args: tuple[object, ...]) -> logging.LogRecord:
    return logging.LogRecord(CHANNELS_REDIS_LOGGER, level, __file__, 1, msg, args, None)


def test_records_pass_exactly_as_the_configuration_would_show_them() -> None:
    parent = logging.getLogger(CHANNELS_REDIS_LOGGER).parent
    assert parent is not None
    previous = parent.level
    parent.setLevel(logging.WARNING)
    try:
        inherited = OverCapacityFilter(logging.NOTSET)
        assert not inherited.filter(record(logging.INFO, "reconnecting", ()))
        assert inherited.filter(record(logging.WARNING, "reconnecting", ()))
        # An explicit level on the logger itself wins over its parents'.
        explicit = OverCapacityFilter(logging.INFO)
        assert explicit.filter(record(logging.INFO, "reconnecting", ()))
    finally:
        parent.setLevel(previous)


def test_the_drop_is_counted_even_when_the_record_is_not_shown() -> None:
    hidden = OverCapacityFilter(logging.ERROR)
    before = dropped_full()
    assert not hidden.filter(record(logging.INFO, OVER_CAPACITY_FORMAT, (3, 10, "g")))
    assert dropped_full() - before == 3


@pytest.mark.parametrize("args", [(), ("x", 2, "g"), (None, None, None)])
def test_an_unexpected_record_shape_counts_nothing_and_never_raises(
    args: tuple[object, ...],
) -> None:
    before = dropped_full()
    OverCapacityFilter(logging.NOTSET).filter(record(logging.INFO, OVER_CAPACITY_FORMAT, args))
    assert dropped_full() == before


def test_installed_once_at_start_up_with_the_logger_open_to_info() -> None:
    channels_redis_logger = logging.getLogger(CHANNELS_REDIS_LOGGER)
    count_channel_layer_drops()  # StreamsConfig.ready() did it once already
    filters = [f for f in channels_redis_logger.filters if isinstance(f, OverCapacityFilter)]
    assert len(filters) == 1
    assert channels_redis_logger.getEffectiveLevel() <= logging.INFO
