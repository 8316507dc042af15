"""Hand observer messages to the channel layer from wherever a commit happened.

Writes commit in sync code: a request thread, ``sync_to_async`` worker
threads, management commands. Each commit sends its messages in one
``async_to_sync`` call. When the commit happens on a thread that runs an event
loop (a signal sent from async code), the messages are sent by a task on that
loop instead, since ``async_to_sync`` cannot be used there.

A channel layer that fails (Redis down) never breaks the write that produced
the events: the messages of that commit are dropped and logged once. See
``docs/OBSERVERS.md`` for what subscribers miss then.

Whether a group has members can only be known when every member lives in
this process: with Channels' in-memory layer :func:`group_probe` lets the
writer skip messages (and their serialization) for empty groups. With any
other layer (Redis: subscribers in other processes) everything is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from gateway import metrics, tracing
from streams.observer import history

logger = logging.getLogger(__name__)

#: ``(group, message)``, or ``(group, message, policy)`` for an observer that
#: keeps a history (``policy`` ``None``: it does not).
Outgoing = tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], history.HistoryPolicy | None]

#: Tasks started on a running loop; kept so they are not garbage collected mid-send.
_pending_tasks: set[asyncio.Task[Any]] = set()


class GroupProbe:
    """Which groups of a process-local channel layer have members, read when asked.

    Reads the in-memory layer's ``groups`` dict from the writer's thread
    without a lock: a dict lookup is atomic, and a race can only err
    towards sending. A subscriber that joins after the probe said "empty"
    joined after the commit, so the state it reads when subscribing already
    holds the change (subscribing joins before reading).
    """

    __slots__ = ("_layer",)

    def __init__(self, layer: InMemoryChannelLayer) -> None:
        self._layer = layer

    def __call__(self, group: str) -> bool:
        return bool(self._layer.groups.get(group))

    def any(self) -> bool:
        """Does any group have a member? (When unsure: yes.)"""
        try:
            return any(self._layer.groups.values())
        except RuntimeError:
            # The loop's thread changed the dict mid-iteration (only possible
            # without a GIL): err towards sending.
            return True


def group_probe() -> GroupProbe | None:
    """A :class:`GroupProbe` when the default layer keeps its groups in this process.

    ``None`` (everything must be sent) for any other layer, including
    subclasses of the in-memory layer that change how ``group_send`` works.
    """
    layer = get_channel_layer()
    if (
        isinstance(layer, InMemoryChannelLayer)
        and type(layer).group_send is InMemoryChannelLayer.group_send
        and isinstance(getattr(layer, "groups", None), dict)
    ):
        return GroupProbe(layer)
    return None


async def assign_positions(layer: Any, messages: Sequence[Outgoing]) -> None:
    """Append the messages of observers with a history to it, and give each its
    position (``message["position"] = [epoch, offset]``), before any is sent.

    Positions are assigned here, once per event and group, by the writer:
    every receiving process sees the same position for the same event. When
    the history cannot be written the messages go out without a position
    (their subscribers will not be able to resume past them).
    """
    items: list[tuple[str, dict[str, Any], history.HistoryPolicy]] = []
    for item in messages:
        policy = item[2] if len(item) == 3 else None
        if policy is not None:
            items.append((item[0], item[1], policy))
    if not items:
        return
    store = history.store_for(layer)
    if store is None:
        return
    try:
        positions = await store.append(items)
    except Exception:
        logger.exception(
            "Observer history could not be written; %d message(s) sent without positions.",
            len(items),
        )
        return
    for (_, message, _), position in zip(items, positions, strict=True):
        message["position"] = [position.epoch, position.offset]


async def send_to_groups(messages: Sequence[Outgoing]) -> int:
    """Send each ``(group, message[, history policy])``; returns how many were sent.

    Stops at the first failure: when the layer is unreachable the remaining
    sends would fail alike, each after its own timeout.
    """
    layer = get_channel_layer()
    if layer is None:
        if messages:
            metrics.dropped("no_layer", len(messages))
            logger.warning(
                "%d observer message(s) dropped: no channel layer is configured "
                "(set CHANNEL_LAYERS in the settings).",
                len(messages),
            )
        return 0
    await assign_positions(layer, messages)
    if tracing.ENABLED:
        for _group, message, *_ in messages:
            tracing.inject(message)
    sent = 0
    for group, message, *_ in messages:
        try:
            await layer.group_send(group, message)
        except Exception:
            logger.exception(
                "Channel layer failed; %d observer message(s) of this commit dropped.",
                len(messages) - sent,
            )
            metrics.layer_error("group_send")
            metrics.dropped("layer_error", len(messages) - sent)
            break
        sent += 1
    metrics.observer_sent(sent)
    return sent


def send_from_sync(messages: Sequence[Outgoing]) -> None:
    """Send ``messages`` from sync code (or schedule them when a loop runs here)."""
    if not messages:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None:
        async_to_sync(send_to_groups)(messages)
        return
    task = loop.create_task(send_to_groups(messages))
    _pending_tasks.add(task)
    task.add_done_callback(_pending_tasks.discard)
