"""``BaseObserver``: what model and signal observers share.

An observer replaces the consumer method it decorates. On the class it is the
observer (hooks: ``serializer``, ``groups_for_signal``, ``groups_for_consumer``,
``groups``); on a consumer instance it is a :class:`BoundObserver` with
``subscribe()`` / ``unsubscribe()``, and Channels calls it for the messages
whose ``type`` names it.

Hooks receive the observer as their first argument, as in DCRF:
``serializer(observer, instance, action, **kw)``,
``groups_for_signal(observer, instance, **kw)``,
``groups_for_consumer(observer, *args, consumer=..., **kw)``.

Subscriptions are kept per consumer instance, per observer and group, with
the request_ids that asked for them (``None`` for a subscription made without
one). A group is left as soon as no request_id needs it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from gateway import tracing
from streams import layer_ops
from streams.errors import ActionError
from streams.observer import history as history_module
from streams.observer.groups import group_name, request_id_key
from streams.settings import api_settings

logger = logging.getLogger(__name__)

LAYER_DOWN_MESSAGE = "Subscriptions are unavailable right now; try again later."
#: The reply when the server has no channel layer: a set-up error, not a retry.
NO_LAYER_MESSAGE = (
    "Subscriptions are not available on this server: it has no channel layer (CHANNEL_LAYERS)."
)
TOO_MANY_SUBSCRIPTIONS_MESSAGE = (
    "Too many subscriptions on this stream (limit {limit}); unsubscribe before subscribing again."
)

#: Where a consumer instance keeps its subscriptions:
#: ``{observer_id: {group: {request_id_key: request_id}}}``.
SUBSCRIPTIONS_ATTR = "_streams_observer_subscriptions"

#: Where a consumer instance keeps, per group of an observer with a history,
#: the position of the last event it handled: ``{group: Position}``.
POSITIONS_ATTR = "_streams_observer_positions"

Hook = Callable[..., Any]


def subscriptions_of(consumer: Any) -> dict[str, dict[str, dict[str, Any]]]:
    state: dict[str, dict[str, dict[str, Any]]] | None = consumer.__dict__.get(SUBSCRIPTIONS_ATTR)
    if state is None:
        state = consumer.__dict__[SUBSCRIPTIONS_ATTR] = {}
    return state


def positions_of(consumer: Any) -> dict[str, history_module.Position]:
    state: dict[str, history_module.Position] | None = consumer.__dict__.get(POSITIONS_ATTR)
    if state is None:
        state = consumer.__dict__[POSITIONS_ATTR] = {}
    return state


def _consumer_groups(consumer: Any) -> list[str]:
    """The consumer's own ``groups`` list, which Channels leaves on disconnect."""
    groups = consumer.__dict__.get("groups")
    if not isinstance(groups, list):
        # Never append to a list a class attribute shares between instances.
        groups = consumer.groups = list(getattr(consumer, "groups", None) or [])
    return groups


def subscription_limit(consumer: Any) -> int | None:
    """The most subscriptions ``consumer`` may hold: its ``max_subscriptions``
    attribute, else the ``MAX_SUBSCRIPTIONS`` setting; ``None`` means no cap."""
    limit = getattr(consumer, "max_subscriptions", None)
    if limit is None:
        limit = api_settings.MAX_SUBSCRIPTIONS
    return limit


def subscription_count(consumer: Any) -> int:
    """How many (observer, group, request_id) subscriptions ``consumer`` holds."""
    return sum(
        len(request_ids)
        for groups in subscriptions_of(consumer).values()
        for request_ids in groups.values()
    )


def _check_subscription_limit(
    consumer: Any, state: dict[str, dict[str, Any]], groups: list[str], key: str
) -> None:
    """Refuse (429) a subscribe that would take ``consumer`` past its cap.

    Checked before anything is recorded or joined: each subscription costs
    server memory and a channel-layer membership, and a client must not be able
    to grow them without bound on one socket.
    """
    limit = subscription_limit(consumer)
    if limit is None:
        return
    new = sum(1 for group in groups if key not in state.get(group, {}))
    if new and subscription_count(consumer) + new > limit:
        raise ActionError(TOO_MANY_SUBSCRIPTIONS_MESSAGE.format(limit=limit), status=429)


async def _join(observer: BaseObserver, layer: Any, group: str, channel: str) -> None:
    """``group_add``, tried twice: after a Redis restart the first command on a
    pooled connection fails although Redis is back. Then a 503."""
    for attempt in (1, 2):
        try:
            await layer_ops.group_add(layer, group, channel)
            return
        except Exception as exc:
            if attempt == 2:
                logger.warning("%r: could not join a group: %s", observer, exc)
                raise ActionError(LAYER_DOWN_MESSAGE, status=503) from exc


class BaseObserver:
    def __init__(self, func: Callable[..., Any], partition: str = "*", history: Any = None) -> None:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(
                f"Observer handler {func.__qualname__} must be `async def`: Channels awaits it "
                "for each message."
            )
        self.func = func
        self.partition = partition
        #: The consumer attribute holding this observer (set by ``__set_name__``).
        self.name = func.__name__
        #: Stable across processes: the writer and the server compute the same groups.
        self.observer_id = f"{partition}|{func.__module__}.{func.__qualname__}"
        self._serializer: Hook | None = None
        self._groups_for_signal: Hook | None = None
        self._groups_for_consumer: Hook | None = None
        #: ``None``/``False`` (default), ``True``, a dict or a ``HistoryPolicy``:
        #: whether (and how much) history this observer's groups keep.
        self.history = history
        history_module.HistoryPolicy.resolve(history)  # a bad value fails here, not at send

    @property
    def history_policy(self) -> history_module.HistoryPolicy | None:
        """The bounds of this observer's history (settings read at use), or ``None``."""
        return history_module.HistoryPolicy.resolve(self.history)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.observer_id}>"

    @staticmethod
    def _check_name(name: str) -> None:
        if name.startswith("_"):
            raise TypeError(
                f"Observer method {name!r} starts with an underscore, which Channels refuses "
                "in message types; rename the method."
            )

    def __set_name__(self, owner: type, name: str) -> None:
        self._check_name(name)
        self.name = name

    @property
    def message_type(self) -> str:
        """The ``type`` of this observer's messages; Channels maps it back to ``self.name``."""
        return self.name.replace("_", ".")

    def __get__(self, consumer: Any, owner: type | None = None) -> Any:
        if consumer is None:
            return self
        return BoundObserver(self, consumer)

    # ------------------------------------------------------------------ hooks
    def serializer(self, func: Hook) -> BaseObserver:
        """Decorator: ``func(observer, instance, action, **kw)`` returns the message body.

        It runs once per event in the writing process, after the commit, not
        once per subscriber.
        """
        self._serializer = func
        return self

    def groups_for_signal(self, func: Hook) -> BaseObserver:
        """Decorator: ``func(observer, instance, **kw)`` yields the group suffixes of an event.

        It runs for every write, so it must not query the database.
        """
        self._groups_for_signal = func
        return self

    def groups_for_consumer(self, func: Hook) -> BaseObserver:
        """Decorator: ``func(observer, *args, consumer=..., **kw)`` yields the suffixes a
        ``subscribe(*args, **kw)`` joins."""
        self._groups_for_consumer = func
        return self

    def groups(self, func: Hook) -> BaseObserver:
        """Decorator: one function for both ``groups_for_signal`` and ``groups_for_consumer``."""
        self._groups_for_signal = func
        self._groups_for_consumer = func
        return self

    # ----------------------------------------------------------------- groups
    def default_group_suffixes(self, *args: Any, **kwargs: Any) -> Iterable[Any]:
        """Suffixes when no group hook is set: one group for every event."""
        return ("all",)

    def group_names_for_signal(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        suffixes = (
            self._groups_for_signal(self, *args, **kwargs)
            if self._groups_for_signal is not None
            else self.default_group_suffixes(*args, **kwargs)
        )
        for suffix in suffixes:
            yield group_name(self.observer_id, suffix)

    def group_names_for_consumer(self, consumer: Any, *args: Any, **kwargs: Any) -> Iterator[str]:
        if self._groups_for_consumer is not None:
            suffixes = self._groups_for_consumer(self, *args, consumer=consumer, **kwargs)
        else:
            suffixes = self.default_group_suffixes(*args, **kwargs)
        for suffix in suffixes:
            yield group_name(self.observer_id, suffix)

    # ---------------------------------------------------------- subscriptions
    async def subscribe(
        self, consumer: Any, *args: Any, request_id: Any = None, **kwargs: Any
    ) -> list[str]:
        """Join the groups ``groups_for_consumer(*args, **kwargs)`` names, for ``request_id``.

        The group is joined before this returns, so a caller that reads the
        current state afterwards cannot miss a change made in between. A
        subscription beyond the consumer's cap (``max_subscriptions``) raises a
        429 ``ActionError`` and joins nothing.
        """
        layer = consumer.channel_layer
        if layer is None:
            # A bare 500 would leave the developer guessing: say what is
            # missing to the client, and the fix in the log (and `manage.py
            # check`, streams.E002).
            logger.error(
                "%s cannot subscribe to %r: no channel layer is configured; set "
                "CHANNEL_LAYERS in the settings (docs/INSTALL.md).",
                type(consumer).__qualname__,
                self.name,
            )
            raise ActionError(NO_LAYER_MESSAGE, status=500)
        groups = list(dict.fromkeys(self.group_names_for_consumer(consumer, *args, **kwargs)))
        key = request_id_key(request_id)
        _check_subscription_limit(
            consumer, subscriptions_of(consumer).get(self.observer_id, {}), groups, key
        )
        state = subscriptions_of(consumer).setdefault(self.observer_id, {})
        heads = await self._heads(consumer, [group for group in groups if group not in state])
        joined = _consumer_groups(consumer)
        added_here: list[str] = []
        for group in groups:
            # Recorded before joining: events are dispatched while actions run,
            # so one may arrive as soon as the join is done and must find the
            # request_id. Joined even when already a member: idempotent, and it
            # heals a membership a restarted Redis forgot.
            request_ids = state.setdefault(group, {})
            added = key not in request_ids
            request_ids[key] = request_id
            try:
                await _join(self, layer, group, consumer.channel_name)
            except BaseException:
                if added:
                    request_ids.pop(key, None)
                    if not request_ids:
                        state.pop(group, None)
                # All or nothing: the caller gets an error, so the groups this
                # call joined before the failure must not keep pushing.
                await self.drop(consumer, added_here, request_id=request_id)
                raise
            if added:
                added_here.append(group)
            if group not in joined:
                joined.append(group)
            if group in heads:
                positions_of(consumer)[group] = heads[group]
        return groups

    async def _heads(self, consumer: Any, groups: list[str]) -> dict[str, history_module.Position]:
        """The history's current positions of ``groups``, read *before* joining them.

        Events appended after this read but before the join are not received
        live; the first one received after them shows the gap, which is then
        filled from the history (:meth:`receive`). Read after the join, the
        positions would wrongly mark such events as already handled.
        """
        policy = self.history_policy
        store = history_module.store_for(consumer.channel_layer) if policy else None
        if not groups or policy is None or store is None:
            return {}
        try:
            return dict(zip(groups, await store.heads(groups, policy), strict=True))
        except Exception as exc:
            # Without a starting position the subscription still works; its
            # first push sets the position.
            logger.warning("%r: could not read the history's positions: %s", self, exc)
            return {}

    async def unsubscribe(
        self, consumer: Any, *args: Any, request_id: Any = None, **kwargs: Any
    ) -> list[str]:
        """Drop ``request_id`` (all of them when ``None``) from the groups named by the
        arguments; leave each group no request_id needs any more. Unknown
        subscriptions are ignored, so unsubscribing twice is harmless."""
        groups = list(dict.fromkeys(self.group_names_for_consumer(consumer, *args, **kwargs)))
        await self.drop(consumer, groups, request_id=request_id, everything=request_id is None)
        return groups

    async def drop(
        self, consumer: Any, groups: Iterable[str], request_id: Any = None, everything: bool = False
    ) -> None:
        """Remove ``request_id`` (or every request_id) from ``groups``; leave emptied groups."""
        state = subscriptions_of(consumer).get(self.observer_id)
        if not state:
            return
        joined = _consumer_groups(consumer)
        for group in groups:
            request_ids = state.get(group)
            if request_ids is None:
                continue
            if everything:
                request_ids.clear()
            else:
                request_ids.pop(request_id_key(request_id), None)
            if request_ids:
                continue
            del state[group]
            positions_of(consumer).pop(group, None)
            if group in joined:
                joined.remove(group)
            try:
                await layer_ops.group_discard(consumer.channel_layer, group, consumer.channel_name)
            except Exception as exc:
                # No events reach this consumer for the group any more (it is
                # forgotten above); the layer expires the stale membership.
                logger.warning("%r: could not leave a group: %s", self, exc)

    def request_ids(self, consumer: Any, group: str | None) -> list[Any] | None:
        """The request_ids subscribed to ``group`` on ``consumer``; ``None`` if not subscribed."""
        state = subscriptions_of(consumer).get(self.observer_id)
        if not state or group is None:
            return None
        request_ids = state.get(group)
        return None if request_ids is None else list(request_ids.values())

    # ---------------------------------------------------------------- receive
    async def receive(self, consumer: Any, message: dict[str, Any]) -> None:
        """Run the handler for a channel-layer message; a failing handler is logged.

        Messages for a group this consumer has left (sent before it left) are
        ignored. Messages with a position (observers with a history) are
        handled in position order, each once: a repeated or late one is
        dropped, and a gap (events other processes sent that have not
        arrived yet, or that the layer lost) is filled from the history first.
        """
        group = message.get("group")
        request_ids = self.request_ids(consumer, group)
        if request_ids is None:
            return
        if tracing.ENABLED and tracing.delivering():
            with tracing.delivery(message, type(self).__qualname__):
                await self._receive_in_order(consumer, message, group, request_ids)
        else:
            await self._receive_in_order(consumer, message, group, request_ids)

    async def _receive_in_order(
        self, consumer: Any, message: dict[str, Any], group: Any, request_ids: Any
    ) -> None:
        position = message.get("position")
        if group is None or not isinstance(position, list | tuple) or len(position) != 2:
            await self.deliver(consumer, message, request_ids)
            return
        for queued in await self._in_order(consumer, group, message, position):
            request_ids = self.request_ids(consumer, group)
            if request_ids is None:
                return
            await self.deliver(consumer, queued, request_ids)

    async def _in_order(
        self, consumer: Any, group: str, message: dict[str, Any], position: Any
    ) -> list[dict[str, Any]]:
        """The messages to handle now, in order, for ``message`` at ``position``."""
        epoch, offset = position
        positions = positions_of(consumer)
        last = positions.get(group)
        if last is None or last.epoch != epoch or offset == last.offset + 1:
            positions[group] = history_module.Position(epoch, offset)
            return [message]
        if offset <= last.offset:
            return []  # handled already (replayed, or a gap filled before it arrived)
        policy = self.history_policy
        store = history_module.store_for(consumer.channel_layer) if policy else None
        positions[group] = history_module.Position(epoch, offset)
        if policy is None or store is None:
            return [message]
        try:
            replay = await store.read(group, last, policy)
        except Exception as exc:
            logger.warning("%r: could not read the history to fill a gap: %s", self, exc)
            return [message]
        if not replay.recovered or replay.head.epoch != epoch or replay.head.offset < offset:
            return [message]  # the gap cannot be filled; go on from here
        positions[group] = replay.head
        return replay.messages

    async def deliver(
        self,
        consumer: Any,
        message: dict[str, Any],
        request_ids: list[Any],
        replayed: bool = False,
    ) -> None:
        """Run the handler for ``message`` and the subscriptions ``request_ids``.

        ``replayed``: the message comes from the history for a resuming
        subscription (the handler gets ``replayed=True``), not live.
        """
        extra = {k: v for k, v in message.items() if k not in ("type", "body")}
        if replayed:
            extra["replayed"] = True
        try:
            await self.func(
                consumer,
                message.get("body"),
                observer=self,
                message_type=message.get("type"),
                subscribing_request_ids=request_ids,
                **extra,
            )
        except Exception:
            stream = getattr(consumer.scope.get("gateway"), "stream", None)
            logger.exception(
                "%s: observer handler %r failed (stream %r, action %r, request_ids %r); "
                "event dropped for this consumer.",
                type(consumer).__qualname__,
                self.name,
                stream,
                message.get("action"),
                request_ids,
                extra={
                    "stream": stream,
                    "action": message.get("action"),
                    "request_id": request_ids,
                },
            )


class BoundObserver:
    """An observer as seen from one consumer instance (``self.handler`` in a consumer)."""

    __slots__ = ("consumer", "observer")

    def __init__(self, observer: BaseObserver, consumer: Any) -> None:
        self.observer = observer
        self.consumer = consumer

    async def __call__(self, message: dict[str, Any]) -> None:
        await self.observer.receive(self.consumer, message)

    async def subscribe(self, *args: Any, request_id: Any = None, **kwargs: Any) -> list[str]:
        return await self.observer.subscribe(self.consumer, *args, request_id=request_id, **kwargs)

    async def unsubscribe(self, *args: Any, request_id: Any = None, **kwargs: Any) -> list[str]:
        return await self.observer.unsubscribe(
            self.consumer, *args, request_id=request_id, **kwargs
        )

    def __getattr__(self, name: str) -> Any:
        # Read-only access to the observer's attributes (model_cls, name...).
        return getattr(self.observer, name)
