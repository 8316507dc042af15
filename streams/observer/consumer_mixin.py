"""``ObserverConsumerMixin``: what the generic observer mixins share.

It binds the observer templates declared on a mixin to each consumer class
(one :class:`~streams.observer.model_observer.ModelObserver` per class and
model, as DCRF's metaclass did), delivers observer messages without Channels'
per-message thread hop, keeps pushes behind the reply of the subscribe that
asked for them, and replays a resuming client's missed events. The actions
themselves are in :mod:`streams.observer.instance_mixin` and
:mod:`streams.observer.list_mixin`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Hashable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Manager, Model, QuerySet

from gateway import metrics
from streams.observer import delivery, history
from streams.observer.base_observer import BaseObserver, positions_of
from streams.observer.groups import request_id_key
from streams.observer.model_observer import ModelObserver
from streams.registry import APIConsumerMetaclass, RegisteredAction

if TYPE_CHECKING:
    from streams.generics import GenericAsyncAPIConsumer as _Base
else:
    from streams.composition import MixinBase as _Base

logger = logging.getLogger(__name__)

#: Subscribe actions whose pushes wait for their reply when called from the wire
#: (method names: an override keeps the ordering).
SUBSCRIBE_ACTIONS = frozenset({"subscribe_instance", "subscribe_list"})

__all__ = [
    "ObserverAPIConsumerMetaclass",
    "ObserverConsumerMixin",
    "ObserverTemplate",
]


class ObserverTemplate:
    """A model observer declared on a mixin, made concrete per consumer class.

    Each consumer class gets its own :class:`ModelObserver` for the model of its
    ``queryset`` (and its own groups), as DCRF's metaclass did.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        groups_for_signal: Callable[..., Any] | None = None,
        groups_for_consumer: Callable[..., Any] | None = None,
        track_moves: bool | None = None,
    ) -> None:
        self.func = func
        self.groups_for_signal = groups_for_signal
        self.groups_for_consumer = groups_for_consumer
        self.track_moves = track_moves

    def bind(self, owner: type, name: str, model: type[Model]) -> ModelObserver:
        observer = ModelObserver(
            self.func,
            model_cls=model,
            # The model too: class factories can make two classes with one
            # qualname for different models, which must not share groups.
            partition=f"{owner.__module__}.{owner.__qualname__}.{name}:{model._meta.label}",
            many_to_many=bool(getattr(owner, "observer_many_to_many_relationships", False)),
            track_moves=self.track_moves,
            history=getattr(owner, "observer_history", None),
        )
        observer.name = name
        if self.groups_for_signal is not None:
            observer.groups_for_signal(self.groups_for_signal)
        if self.groups_for_consumer is not None:
            observer.groups_for_consumer(self.groups_for_consumer)
        observer.template = self  # type: ignore[attr-defined]
        observer.bound_to = owner  # type: ignore[attr-defined]
        return observer


class ObserverAPIConsumerMetaclass(APIConsumerMetaclass):
    """DCRF's name, kept for code that names it; adds nothing.

    Observers are bound per class by ``ObserverConsumerMixin.__init_subclass__``.
    """


def _queryset_model(cls: type) -> type[Model] | None:
    queryset = getattr(cls, "queryset", None)
    if isinstance(queryset, QuerySet | Manager):
        return queryset.model
    return None


def _check_listed_before_the_consumer(cls: type) -> None:
    """Observer mixins must come before the consumer class in the bases.

    Listed after it, the consumer's ``dispatch`` and ``__init__`` (which do not
    call further up) hide the mixin's: subscriptions would fail and pushes
    would never be delivered, so the class is refused at definition.
    """
    from streams.consumers import AsyncAPIConsumer

    mro = cls.__mro__
    if AsyncAPIConsumer not in mro:
        return
    consumer_at = mro.index(AsyncAPIConsumer)
    mixin_at = mro.index(ObserverConsumerMixin)
    if consumer_at < mixin_at:
        mixins = [c.__name__ for c in cls.__bases__ if issubclass(c, ObserverConsumerMixin)]
        consumers = [c.__name__ for c in cls.__bases__ if issubclass(c, AsyncAPIConsumer)]
        raise TypeError(
            f"{cls.__qualname__} lists {', '.join(consumers) or 'its consumer class'} before "
            f"{', '.join(mixins) or 'an observer mixin'}, whose dispatch and __init__ it would "
            "hide: list the mixins first and the consumer class last, e.g. "
            f"`class {cls.__name__}(ObserverModelInstanceMixin, GenericAsyncAPIConsumer)`."
        )


class ObserverConsumerMixin(_Base):
    """Binds observer templates per class and delivers observer messages directly.

    Channels' ``dispatch`` spends a thread hop (``close_old_connections``) on
    every message; for observer messages that hop would be paid once per
    subscriber. Their database work runs through ``database_sync_to_async``,
    which does that housekeeping itself, so it is skipped here.
    """

    #: Also observe many-to-many changes (DCRF's attribute).
    observer_many_to_many_relationships: ClassVar[bool] = False

    #: Most subscriptions one consumer (one stream of one socket) may hold;
    #: ``None``: the ``MAX_SUBSCRIPTIONS`` setting. Beyond it subscribing is 429.
    max_subscriptions: ClassVar[int | None] = None

    #: Keep a bounded history per group for the generic mixins' observers, so
    #: clients can resume after a reconnect (``True``, a dict of
    #: ``max_events``/``max_age``, or a ``HistoryPolicy``; docs/OBSERVERS.md).
    #: Read when the class is created. Off by default: it costs a write per event.
    observer_history: ClassVar[Any] = None

    #: message type -> attribute name of the class's observers (read-only).
    observer_message_types: ClassVar[Mapping[str, str]] = MappingProxyType({})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_listed_before_the_consumer(cls)
        model = _queryset_model(cls)
        types: dict[str, str] = {}
        for name in dir(cls):
            if name.startswith("__"):
                continue
            member = inspect.getattr_static(cls, name, None)
            template = member if isinstance(member, ObserverTemplate) else None
            if isinstance(member, ModelObserver) and hasattr(member, "template"):
                template = None if member.bound_to is cls else member.template  # type: ignore[attr-defined]
            if template is not None:
                member = template.bind(cls, name, model) if model is not None else template
                setattr(cls, name, member)
            if isinstance(member, BaseObserver):
                types[member.message_type] = name
        cls.observer_message_types = MappingProxyType(types)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # request_id key -> pushes held while that subscribe is being answered.
        self._held_pushes: dict[Hashable, list[dict[str, Any]]] = {}
        # request_id key -> keys a subscribe's reply gets besides the usual five
        # (``positions``, ``resume``), set while it is answered from the wire.
        self._reply_extras: dict[Hashable, dict[str, Any]] = {}

    # ------------------------------------------------------------- pushes
    # Events are handled while actions run (the frame worker), so a push could
    # overtake the reply of the subscribe that asked for it, and a client would
    # then apply an older snapshot over a newer push. Pushes for a request_id
    # whose subscribe is under way wait, and follow its reply.
    async def push(
        self,
        action: str | None,
        data: Any,
        status: int,
        request_id: Any,
        position: dict[str, Any] | None = None,
    ) -> None:
        """Send a subscription push (``{"action", "data", "response_status", "request_id"}``,
        plus ``position`` for observers with a history)."""
        held = self._held_pushes.get(request_id_key(request_id))
        if held is not None:
            held.append({"action": action, "data": data, "status": status, "position": position})
            return
        await self._send_push(request_id, action, data, status, position)

    async def _send_push(
        self, request_id: Any, action: str | None, data: Any, status: int, position: Any
    ) -> None:
        metrics.observer_delivered()
        if position is None:
            await self.reply(action=action, data=data, status=status, request_id=request_id)
            return
        await self.send_json(
            {
                "errors": [],
                "data": data,
                "action": action,
                "response_status": status,
                "request_id": request_id,
                "position": position,
            }
        )

    async def _serve_async_action(
        self, entry: RegisteredAction, method: Any, call_kwargs: dict[str, Any]
    ) -> None:
        """A subscribe from the wire: its pushes wait until its reply is out.

        Called from Python (``await self.subscribe_instance(...)`` in another
        action) a subscribe just returns ``(data, 201)``, as in DCRF; ordering
        against a reply is then the calling action's business.
        """
        if entry.attribute not in SUBSCRIBE_ACTIONS:
            await super()._serve_async_action(entry, method, call_kwargs)
            return
        request_id = call_kwargs["request_id"]
        key = request_id_key(request_id)
        held: list[dict[str, Any]] = []
        self._held_pushes[key] = held
        try:
            await super()._serve_async_action(entry, method, call_kwargs)
        finally:
            if self._held_pushes.get(key) is held:
                del self._held_pushes[key]
            self._reply_extras.pop(key, None)
        # Each once, in position order: a resume replays events that may also
        # have arrived live meanwhile.
        for push in _in_position_order(held):
            await self._send_push(request_id, **push)

    async def _reply_result(self, action: str, request_id: Any, result: Any) -> None:
        extra = self._reply_extras.pop(request_id_key(request_id), None)
        if not extra or not (isinstance(result, tuple) and len(result) == 2):
            await super()._reply_result(action, request_id, result)
            return
        data, response_status = result
        await self.send_json(
            {
                "errors": [],
                "data": data,
                "action": action,
                "response_status": response_status,
                "request_id": request_id,
                **extra,
            }
        )

    def _reply_with(self, request_id: Any, extra: dict[str, Any]) -> None:
        """Add ``extra`` to the reply of the subscribe ``request_id``, when it is
        answered from the wire (called from Python, a subscribe returns its
        ``(data, status)`` only)."""
        key = request_id_key(request_id)
        if extra and key in self._held_pushes:
            self._reply_extras[key] = extra

    async def resume_subscription(
        self,
        observer: BaseObserver,
        groups: list[str],
        request_id: Any,
        resume: dict[str, history.Position] | None,
    ) -> tuple[bool, dict[str, Any]]:
        """After ``observer.subscribe``: replay what a resuming client missed.

        Returns whether everything was recovered, and the keys the subscribe
        reply gets: ``positions`` (where the subscription starts; not when
        recovered, where the replayed pushes carry them) and, when ``resume``
        was given, ``resume`` (``{"recovered", "reason"}``). Replayed pushes
        go to ``request_id`` only, through the observer's handler (permission
        checks included), and are held until the reply is sent.
        """
        policy = observer.history_policy
        store = history.store_for(self.channel_layer) if policy is not None else None
        extra: dict[str, Any] = {}
        if policy is None or store is None:
            if resume is not None:
                extra["resume"] = {"recovered": False, "reason": history.DISABLED}
            return False, extra
        positions = positions_of(self)
        starts = [
            history.wire_position(group, [positions[group].epoch, positions[group].offset])
            for group in groups
            if group in positions
        ]
        if resume is None:
            extra["positions"] = starts
            return False, extra
        replays: list[history.Replay] = []
        reason: str | None = None
        for group in groups:
            since = resume.get(history.group_tag(group))
            if since is None:
                reason = history.UNKNOWN
                break
            replay = await store.read(group, since, policy)
            if not replay.recovered:
                reason = replay.reason
                break
            replays.append(replay)
        if reason is not None:
            extra["resume"] = {"recovered": False, "reason": reason}
            extra["positions"] = starts
            return False, extra
        for replay in replays:
            for message in replay.messages:
                await observer.deliver(self, message, [request_id], replayed=True)
        extra["resume"] = {"recovered": True, "reason": None}
        return True, extra

    async def dispatch(self, message: dict[str, Any]) -> None:
        name = self.observer_message_types.get(message.get("type", ""))
        if name is not None:
            await getattr(self, name)(message)
            return
        await super().dispatch(message)

    def bound_observer(self, name: str) -> ModelObserver:
        """The class's observer ``name``; a clear error when it has no model."""
        member = inspect.getattr_static(type(self), name, None)
        if not isinstance(member, ModelObserver):
            raise ImproperlyConfigured(
                f"{type(self).__qualname__} has no model to observe: set `queryset` on the "
                "class (e.g. `queryset = Book.objects.all()`); observers are bound to its model "
                "when the class is created."
            )
        return member

    # ------------------------------------------------------------- policy
    def get_observer_serializer_key(self, action: str) -> Hashable:
        """Subscribers whose keys are equal share one serialization of an event.

        The default is the consumer class, its serializer class and its gateway
        route table (hypermedia links depend on it). Add the user when your
        serializer's output depends on who asks.
        """
        gateway = self.scope.get("gateway")
        routes = getattr(gateway, "routes", None)
        return (type(self), self.get_serializer_class(action=action), id(routes))

    async def observer_may_see(self, obj: Model, action: str = "retrieve") -> bool:
        """May this subscriber receive ``obj``? ``has_permission(action)`` and
        ``has_object_permission(action, obj)`` of every permission class."""
        return await delivery.may_see(self, action, obj)

    async def observed_data(self, event: dict[str, Any], action: str) -> Any:
        """The serialized object of ``event``, computed once per process and serializer key."""
        obj = await delivery.event_instance(event)

        def serialize() -> Any:
            return self.get_serializer(instance=obj, action_kwargs={"action": action}).data

        return await delivery.serialized(event, self.get_observer_serializer_key(action), serialize)


def _in_position_order(pushes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Held pushes, each position once, positions ascending per group (a stable
    sort: pushes without a position keep their place relative to each other)."""
    if not pushes or any(push["position"] is None for push in pushes):
        return pushes
    seen: set[tuple[Any, Any, Any]] = set()
    ordered = []
    for push in sorted(pushes, key=lambda p: (p["position"]["group"], p["position"]["offset"])):
        key = (push["position"]["group"], push["position"]["epoch"], push["position"]["offset"])
        if key not in seen:
            seen.add(key)
            ordered.append(push)
    return ordered
