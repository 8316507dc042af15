"""Counting the events channels_redis drops for subscribers whose channel is full.

``group_send`` on channels_redis skips every member of the group whose channel
already holds ``capacity`` messages (a consumer that stopped reading, or a
burst bigger than the capacity). The only trace is one INFO record on the
``channels_redis.core`` logger, and INFO is below what that logger shows by
default, so in a stock deployment the drop is silent: the subscriber misses an
event and nobody is told.

``count_channel_layer_drops()`` (called by ``StreamsConfig.ready()``) watches
that record: each drop is counted in ``streams_dropped_total{reason="layer_full"}``
(``gateway.metrics``) and logged at WARNING on ``gateway.layer_drops``. To see
the record at all, the logger must be enabled for INFO; the filter then lets
through exactly what the logging configuration would have shown without it, so
nothing new appears in anyone's logs except our WARNING.

Channels' ``InMemoryChannelLayer`` drops for a full channel without any record
(``except ChannelFull: pass``); it is a development layer and is not covered.
"""

from __future__ import annotations

import logging

from gateway import metrics

__all__ = ["CHANNELS_REDIS_LOGGER", "OverCapacityFilter", "count_channel_layer_drops"]

CHANNELS_REDIS_LOGGER = "channels_redis.core"

#: The format string channels_redis 4.x logs a group send's over-capacity count with.
OVER_CAPACITY_FORMAT = "%s of %s channels over capacity in group %s"

logger = logging.getLogger(__name__)


class OverCapacityFilter(logging.Filter):
    """Counts channels_redis' over-capacity records; passes what would have passed anyway.

    ``threshold`` is the level the logger had before it was opened up to INFO
    (``NOTSET`` means "whatever its parents say", read at each record so a
    later change of the parents still counts).
    """

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == OVER_CAPACITY_FORMAT and isinstance(record.args, tuple):
            _count_over_capacity(record.args)
        return record.levelno >= self._level_shown(record)

    def _level_shown(self, record: logging.LogRecord) -> int:
        if self.threshold != logging.NOTSET:
            return self.threshold
        parent = logging.getLogger(record.name).parent
        return parent.getEffectiveLevel() if parent is not None else logging.WARNING


def _count_over_capacity(args: tuple[object, ...]) -> None:
    try:
        dropped, members, group = int(args[0]), int(args[1]), args[2]  # type: ignore[call-overload]
    except (IndexError, TypeError, ValueError):
        return  # Not the record we know; never let logging raise.
    metrics.dropped("layer_full", dropped)
    logger.warning(
        "%d of %d subscriber channels in group %s were full: the event was not delivered "
        "to them (raise the channel layer's capacity, or find the consumer that stopped "
        "reading).",
        dropped,
        members,
        group,
    )


def count_channel_layer_drops() -> None:
    """Install the filter on channels_redis' logger once per process (idempotent)."""
    channels_redis_logger = logging.getLogger(CHANNELS_REDIS_LOGGER)
    if any(isinstance(f, OverCapacityFilter) for f in channels_redis_logger.filters):
        return
    threshold = channels_redis_logger.level
    channels_redis_logger.addFilter(OverCapacityFilter(threshold))
    if channels_redis_logger.getEffectiveLevel() > logging.INFO:
        channels_redis_logger.setLevel(logging.INFO)
