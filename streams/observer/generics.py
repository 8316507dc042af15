"""Subscription actions for model consumers: one instance, or a filtered list.

``ObserverModelInstanceMixin`` (DCRF's name and shapes): ``retrieve``,
``subscribe_instance`` (201, ``data`` null, or the current object with
``"snapshot": true``), ``unsubscribe_instance`` (204), then for each change of
the object and each subscribing request_id::

    {"action": "update"|"delete", "data": <retrieve data>|{"pk": pk},
     "response_status": 200|204, "request_id": R, "errors": []}

``ObserverModelListMixin``: ``subscribe_list`` / ``unsubscribe_list`` with
``list``'s filter keys; ``create`` (201), ``update`` (200) and ``delete`` (204)
pushes as objects enter, change in, or leave the filtered set.

Each push is permission-checked for its subscriber on delivery (a refused
subscriber gets nothing) and serialized once per process, not per subscriber
(:mod:`streams.observer.delivery`). What a subscriber sees is described in
``docs/OBSERVERS.md``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from channels.db import database_sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Manager, Model, QuerySet
from rest_framework import status
from rest_framework.exceptions import NotFound

from gateway import metrics
from streams.decorators import action
from streams.errors import ActionError
from streams.generics import without
from streams.mixins import RetrieveModelMixin
from streams.observer import delivery, history, membership
from streams.observer.base_observer import BaseObserver, positions_of
from streams.observer.events import pk_from_event
from streams.observer.groups import canonical, request_id_key
from streams.observer.model_observer import ModelObserver
from streams.registry import APIConsumerMetaclass, RegisteredAction
from streams.settings import api_settings

if TYPE_CHECKING:
    from streams.generics import GenericAsyncAPIConsumer as _Base
else:
    from streams.composition import MixinBase as _Base

logger = logging.getLogger(__name__)

#: Back-off (seconds) between attempts to receive from an unreachable channel layer.

#: Subscribe actions whose pushes wait for their reply when called from the wire
#: (method names: an override keeps the ordering).
SUBSCRIBE_ACTIONS = frozenset({"subscribe_instance", "subscribe_list"})

__all__ = [
    "ObserverAPIConsumerMetaclass",
    "ObserverConsumerMixin",
    "ObserverModelInstanceMixin",
    "ObserverModelListMixin",
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


def _pk_groups_for_signal(observer: ModelObserver, instance: Model, **kwargs: Any) -> Any:
    yield f"pk:{instance.pk}"


def _pk_groups_for_consumer(observer: ModelObserver, pk: Any = None, **kwargs: Any) -> Any:
    yield f"pk:{pk}"


def _canonical_pk(model: type[Model], value: Any) -> Any:
    """``value`` as the model's pk field holds it, or raise NotFound."""
    try:
        return model._meta.pk.to_python(value)
    except (DjangoValidationError, TypeError, ValueError):
        raise NotFound() from None


async def _instance_change(
    self: ObserverModelInstanceMixin,
    message: Any,
    action: str | None = None,
    subscribing_request_ids: Any = (),
    event: dict[str, Any] | None = None,
    group: str | None = None,
    position: Any = None,
    **kwargs: Any,
) -> None:
    if not subscribing_request_ids or not event:
        return
    if action != "delete":
        pk = pk_from_event(event)
        scope = self._observed_scopes().get(pk)
        if scope is not None and not scope.everything:
            [inside] = await membership.contains(event, [scope])
            if inside is None:
                return  # unknown (logged): neither pushed nor told it left
            if not inside:
                where = history.wire_position(group, position)
                await self._instance_gone(event, pk, subscribing_request_ids, where)
                return
    obj = await delivery.event_instance(event)
    if not await self.observer_may_see(obj, "retrieve"):
        return
    if action == "delete":
        data: Any = {"pk": event["pk"]}
        response_status: int = status.HTTP_204_NO_CONTENT
    else:
        data = await self.observed_data(event, "retrieve")
        response_status = status.HTTP_200_OK
    where = history.wire_position(group, position)
    for request_id in subscribing_request_ids:
        await self.push(
            action=action, data=data, status=response_status, request_id=request_id, position=where
        )


class ObserverModelInstanceMixin(ObserverConsumerMixin, RetrieveModelMixin):
    """``retrieve`` plus live updates of single objects (see the module docstring)."""

    handle_instance_change: Any = ObserverTemplate(
        _instance_change,
        groups_for_signal=_pk_groups_for_signal,
        groups_for_consumer=_pk_groups_for_consumer,
        # The groups depend on the pk only: objects never move between them.
        track_moves=False,
    )

    def _observed_scopes(self) -> dict[Any, membership.Scope]:
        """pk -> the queryset (compiled) the subscription to that object follows."""
        scopes: dict[Any, membership.Scope] | None = self.__dict__.get("_observer_scopes")
        if scopes is None:
            scopes = self.__dict__["_observer_scopes"] = {}
        return scopes

    async def _instance_gone(
        self, event: dict[str, Any], pk: Any, request_ids: Any, position: Any = None
    ) -> None:
        """The object left this subscriber's ``get_queryset()``: one ``delete`` push
        per request_id (what a deletion looks like, so it tells nothing more),
        then the subscriptions end; ``retrieve`` now answers 404."""
        for request_id in request_ids:
            await self.push(
                action="delete",
                data={"pk": event["pk"]},
                status=status.HTTP_204_NO_CONTENT,
                request_id=request_id,
                position=position,
            )
        observer = self.bound_observer("handle_instance_change")
        await observer.unsubscribe(self, pk=pk)
        self._forget_instance(pk)

    def _forget_instance(self, pk: Any) -> None:
        self._observed_scopes().pop(pk, None)
        lookups = self._observed_lookups()
        for stale in [k for k, v in lookups.items() if v == pk]:
            del lookups[stale]

    def _object_and_scope(self, kwargs: dict[str, Any]) -> tuple[Model, membership.Scope]:
        """The object to subscribe to and the queryset ``get_object`` found it in."""
        instance = self.get_object(**kwargs)
        return instance, membership.scope_of(self._lookup_queryset(without(kwargs, "queryset")))

    def _observed_lookups(self) -> dict[str, Any]:
        lookups: dict[str, Any] | None = self.__dict__.get("_observer_lookup_pks")
        if lookups is None:
            lookups = self.__dict__["_observer_lookup_pks"] = {}
        return lookups

    @action(method="GET")
    async def subscribe_instance(
        self, request_id: Any = None, snapshot: Any = False, resume: Any = None, **kwargs: Any
    ) -> tuple[Any, int]:
        """Subscribe to the object the lookup key names: 201; 404 if there is none.

        The group is joined before ``"snapshot": true`` reads the object, so no
        change can fall between the snapshot and the first push, and pushes
        arriving meanwhile are sent after the reply. Returns ``(None, 201)``
        (the object's data with ``snapshot``), so another action may call it.
        ``resume`` (positions from earlier pushes) replays what was missed from
        the observer's history, or answers with a snapshot when that is not
        possible (docs/PROTOCOL.md section 9).
        """
        return await self._subscribe_instance(request_id, snapshot, resume, **kwargs)

    async def _subscribe_instance(
        self, request_id: Any, snapshot: Any, resume: Any, **kwargs: Any
    ) -> tuple[Any, int]:
        if not isinstance(snapshot, bool):
            raise ActionError({"snapshot": ["Must be a boolean."]}, status=400)
        tokens = history.parse_resume(resume)
        observer = self.bound_observer("handle_instance_change")
        if tokens is not None and self._looks_up_by_pk(observer):
            resumed = await self._resume_by_pk(observer, request_id, tokens, kwargs)
            if resumed is not None:
                return resumed
        instance, scope = await database_sync_to_async(self._object_and_scope)(kwargs)
        pk = instance.pk
        # Kept before joining: an event may arrive as soon as the group is joined.
        scopes = self._observed_scopes()
        previous = scopes.get(pk)
        scopes[pk] = scope
        try:
            groups = await observer.subscribe(self, pk=pk, request_id=request_id)
        except BaseException:
            if previous is None:  # refused (429, 503): nothing may be left behind
                scopes.pop(pk, None)
            else:
                scopes[pk] = previous
            raise
        if not self._looks_up_by_pk(observer):
            # Kept to unsubscribe from a deleted object, whose lookup value can
            # no longer be resolved. One spelling per pk: a client repeating a
            # subscription under other spellings must not grow this.
            lookups = self._observed_lookups()
            for stale in [k for k, v in lookups.items() if v == pk]:
                del lookups[stale]
            lookups[canonical(kwargs.get(self.lookup_url_kwarg or self.lookup_field))] = pk
        try:
            recovered, extra = await self.resume_subscription(observer, groups, request_id, tokens)
            self._reply_with(request_id, extra)
            # A resume that cannot recover answers with a snapshot, asked or not.
            if recovered or not (snapshot or tokens is not None):
                return None, status.HTTP_201_CREATED
            data = await database_sync_to_async(self._snapshot)(kwargs)
        except Exception:
            groups = await observer.unsubscribe(self, pk=pk, request_id=request_id)
            if all(observer.request_ids(self, group) is None for group in groups):
                self._forget_instance(pk)
            raise
        return data, status.HTTP_201_CREATED

    async def _resume_by_pk(
        self,
        observer: ModelObserver,
        request_id: Any,
        tokens: dict[str, history.Position],
        kwargs: dict[str, Any],
    ) -> tuple[Any, int] | None:
        """A resume the history can serve, without a query; ``None`` (undone) otherwise.

        The object is not read: whether this subscriber may see it is checked
        on every replayed and live push, as for any push (permissions and
        ``get_queryset()`` scoping; an object that left the scope ends the
        subscription with a ``delete``), so a thousand clients coming back
        at once cost the database nothing. A resume that cannot recover takes
        the ordinary path: the object is read (404 when it is gone) and
        answered as a snapshot.
        """
        lookup = self.lookup_url_kwarg or self.lookup_field
        if observer.history_policy is None or lookup not in kwargs:
            return None
        pk = _canonical_pk(observer.model_cls, kwargs[lookup])
        scope = await database_sync_to_async(self._subscription_scope)(kwargs)
        scopes = self._observed_scopes()
        previous = scopes.get(pk)
        scopes[pk] = scope
        try:
            groups = await observer.subscribe(self, pk=pk, request_id=request_id)
        except BaseException:
            if previous is None:
                scopes.pop(pk, None)
            else:
                scopes[pk] = previous
            raise
        try:
            recovered, extra = await self.resume_subscription(observer, groups, request_id, tokens)
        except Exception:
            recovered, extra = False, {}
        if recovered:
            self._reply_with(request_id, extra)
            return None, status.HTTP_201_CREATED
        await observer.unsubscribe(self, pk=pk, request_id=request_id)
        if all(observer.request_ids(self, group) is None for group in groups):
            self._forget_instance(pk)
        elif previous is not None:
            scopes[pk] = previous
        return None

    def _subscription_scope(self, kwargs: dict[str, Any]) -> membership.Scope:
        """The queryset ``get_object`` would look in, compiled (no query)."""
        return membership.scope_of(self._lookup_queryset(without(kwargs, "queryset")))

    def _looks_up_by_pk(self, observer: ModelObserver) -> bool:
        """Does the lookup value name the pk (so it converts back without a query)?"""
        return self.lookup_field in ("pk", observer.model_cls._meta.pk.name)

    def _snapshot(self, kwargs: dict[str, Any]) -> Any:
        instance = self.get_object(**kwargs)
        return self.get_serializer(instance=instance, action_kwargs=kwargs).data

    @action(method="GET")
    async def unsubscribe_instance(self, request_id: Any = None, **kwargs: Any) -> tuple[None, int]:
        """Stop the subscription(s) to the object: 204, also when the object was
        deleted meanwhile or nothing was subscribed. Without request_id every
        subscription to that object ends."""
        observer = self.bound_observer("handle_instance_change")
        lookup = self.lookup_url_kwarg or self.lookup_field
        if lookup not in kwargs:
            raise ActionError({lookup: ["This field is required."]}, status=400)
        value = kwargs[lookup]
        lookups = self._observed_lookups()
        key = canonical(value)
        if key in lookups:
            pk = lookups[key]
        elif self._looks_up_by_pk(observer):
            try:
                pk = _canonical_pk(observer.model_cls, value)
            except NotFound:
                return None, status.HTTP_204_NO_CONTENT
        else:
            try:
                pk = (await database_sync_to_async(self.get_object)(**kwargs)).pk
            except NotFound:
                return None, status.HTTP_204_NO_CONTENT
        groups = await observer.unsubscribe(self, pk=pk, request_id=request_id)
        if all(observer.request_ids(self, group) is None for group in groups):
            self._forget_instance(pk)
        return None, status.HTTP_204_NO_CONTENT


@dataclass(eq=False)
class _ListSubscription:
    request_id: Any
    kwargs: dict[str, Any]
    #: The filtered, scoped queryset, compiled when subscribing.
    scope: membership.Scope | None = None
    members: set[Any] = field(default_factory=set)


LIST_COUNTS_KEY = "streams.observer.list_subscriptions"
TOO_MANY_LIST_SUBSCRIPTIONS_MESSAGE = (
    "Too many list subscriptions on this connection (limit {limit}); unsubscribe_list "
    "before subscribing again."
)


async def _list_change(
    self: ObserverModelListMixin,
    message: Any,
    action: str | None = None,
    event: dict[str, Any] | None = None,
    subscribing_request_ids: Any = None,
    group: str | None = None,
    position: Any = None,
    replayed: bool = False,
    **kwargs: Any,
) -> None:
    subscriptions = self._list_subscriptions()
    if not subscriptions or not event:
        return
    pk = pk_from_event(event)
    current = list(subscriptions.values())
    if replayed:
        keys = {request_id_key(request_id) for request_id in subscribing_request_ids or ()}
        current = [sub for sub in current if request_id_key(sub.request_id) in keys]
    if action == "delete":
        answers: list[bool | None] = [False] * len(current)
    else:
        # Every subscription of this consumer in one batch (one query per
        # distinct filter and scope per process, shared with other sockets).
        answers = await membership.contains(
            event, [s.scope for s in current if s.scope is not None]
        )
        if len(answers) != len(current):  # a subscription without scope: not yet read
            it = iter(answers)
            answers = [next(it) if s.scope is not None else None for s in current]
    visible: bool | None = None
    where = history.wire_position(group, position)
    for subscription, inside in zip(current, answers, strict=True):
        if inside is None or subscriptions.get(request_id_key(subscription.request_id)) is not (
            subscription
        ):
            continue  # unknown (logged), or unsubscribed meanwhile
        # On a replay (for one resuming subscription) its members were read
        # after the events being replayed, so "was it in the set" is unknown:
        # an object in the set now gets an update, one that is not a delete
        # (harmless if the client never had it), unless it was created after
        # the client's position.
        was = pk in subscription.members or replayed
        now = inside
        if now:
            if visible is None:
                obj = await delivery.event_instance(event)
                visible = await self.observer_may_see(obj, "list")
            now = visible
        if now:
            subscription.members.add(pk)
            data = await self.observed_data(event, "list")
            push_action, code = ("update", 200) if was else ("create", 201)
        elif was and not (replayed and action == "create"):
            # (An object created after the client's position and not in the
            # set now is one the client never had: no delete for it.)
            subscription.members.discard(pk)
            data, push_action, code = {"pk": event["pk"]}, "delete", 204
        else:
            continue
        await self.push(
            action=push_action,
            data=data,
            status=code,
            request_id=subscription.request_id,
            position=where,
        )


class ObserverModelListMixin(ObserverConsumerMixin):
    """Live updates of a filtered queryset (see the module docstring).

    The subscription remembers which pks are in the set (read when
    subscribing), so it can tell entering from changing. Whether a changed
    object is in the set is asked of the database once per event and
    distinct compiled queryset in each process, in batches
    (:mod:`streams.observer.membership`), never once per subscriber.
    """

    handle_list_change: Any = ObserverTemplate(_list_change)

    #: Most list subscriptions one connection (all its streams together) may
    #: hold; ``None``: the ``MAX_LIST_SUBSCRIPTIONS`` setting. Beyond it, 429.
    max_list_subscriptions: ClassVar[int | None] = None

    def _list_subscriptions(self) -> dict[str, _ListSubscription]:
        subscriptions: dict[str, _ListSubscription] | None = self.__dict__.get(
            "_observer_list_subscriptions"
        )
        if subscriptions is None:
            subscriptions = self.__dict__["_observer_list_subscriptions"] = {}
        return subscriptions

    def _list_counts(self) -> dict[int, int]:
        """Consumer id -> its list subscriptions, for every stream of this connection.

        Shared through ``scope["gateway"].shared``; a consumer without a
        gateway is a connection of its own.
        """
        gateway = self.scope.get("gateway")
        shared = getattr(gateway, "shared", None)
        if not isinstance(shared, dict):
            shared = self.__dict__.setdefault("_observer_list_shared", {})
        counts: dict[int, int] = shared.setdefault(LIST_COUNTS_KEY, {})
        return counts

    def _count_list_subscriptions(self) -> None:
        counts = self._list_counts()
        count = len(self._list_subscriptions())
        if count:
            counts[id(self)] = count
        else:
            counts.pop(id(self), None)

    def _check_list_limit(self, key: str) -> None:
        """429 for a new list subscription beyond the connection's cap.

        Each list subscription costs a compiled query per write of the model
        (shared by equal ones) and memory for its member pks; a client must
        not be able to grow them without bound on one socket.
        """
        limit = self.max_list_subscriptions
        if limit is None:
            limit = api_settings.MAX_LIST_SUBSCRIPTIONS
        if limit is None or key in self._list_subscriptions():
            return
        if sum(self._list_counts().values()) >= limit:
            raise ActionError(TOO_MANY_LIST_SUBSCRIPTIONS_MESSAGE.format(limit=limit), status=429)

    def get_list_subscription_queryset(self, **kwargs: Any) -> QuerySet[Any]:
        """The set a list subscription follows: ``list``'s filtered queryset."""
        hook_kwargs = without(kwargs, "queryset")
        return self.filter_queryset(self.get_queryset(**hook_kwargs), **hook_kwargs)

    @action(method="GET")
    async def subscribe_list(
        self, request_id: Any = None, snapshot: Any = False, resume: Any = None, **kwargs: Any
    ) -> tuple[Any, int]:
        """Subscribe to ``list``'s filtered set: 201 (``data``: the list with ``"snapshot": true``).

        Subscribing again with the same request_id replaces that subscription.
        Pushes arriving while the set is read are sent after the reply.
        """
        return await self._subscribe_list(request_id, snapshot, resume, **kwargs)

    async def _subscribe_list(
        self, request_id: Any, snapshot: Any, resume: Any, **kwargs: Any
    ) -> tuple[Any, int]:
        if not isinstance(snapshot, bool):
            raise ActionError({"snapshot": ["Must be a boolean."]}, status=400)
        tokens = history.parse_resume(resume)
        observer = self.bound_observer("handle_list_change")
        key = request_id_key(request_id)
        self._check_list_limit(key)
        # Bad filters fail here, before anything is joined.
        scope = await database_sync_to_async(self._list_scope)(kwargs)
        groups = await observer.subscribe(self, request_id=request_id)
        subscriptions = self._list_subscriptions()
        previous = subscriptions.get(key)
        try:
            # Again: another stream of this socket may have subscribed meanwhile.
            self._check_list_limit(key)
        except ActionError:
            if previous is None:
                await observer.unsubscribe(self, request_id=request_id)
            raise
        subscription = _ListSubscription(request_id, dict(kwargs), scope)
        subscriptions[key] = subscription
        self._count_list_subscriptions()
        try:
            members, data = await database_sync_to_async(self._list_state)(kwargs, snapshot)
        except Exception:
            # Back to where this call started: the replaced subscription, or none.
            if previous is not None:
                subscriptions[key] = previous
            else:
                subscriptions.pop(key, None)
                await observer.unsubscribe(self, request_id=request_id)
            self._count_list_subscriptions()
            raise
        subscription.members = members
        try:
            recovered, extra = await self.resume_subscription(observer, groups, request_id, tokens)
            self._reply_with(request_id, extra)
            if tokens is not None and not recovered and data is None:
                # A resume that cannot recover answers with a snapshot, asked or not.
                members, data = await database_sync_to_async(self._list_state)(kwargs, True)
                subscription.members = members
        except Exception:
            subscriptions.pop(key, None)
            self._count_list_subscriptions()
            await observer.unsubscribe(self, request_id=request_id)
            raise
        return data, status.HTTP_201_CREATED

    def _list_scope(self, kwargs: dict[str, Any]) -> membership.Scope:
        return membership.scope_of(self.get_list_subscription_queryset(**kwargs))

    def _list_state(self, kwargs: dict[str, Any], snapshot: bool) -> tuple[set[Any], Any]:
        queryset = self.get_list_subscription_queryset(**kwargs)
        if not snapshot:
            return set(queryset.values_list("pk", flat=True)), None
        objects = list(queryset)
        data = self.get_serializer(instance=objects, many=True, action_kwargs=kwargs).data
        return {obj.pk for obj in objects}, data

    @action(method="GET")
    async def unsubscribe_list(self, request_id: Any = None, **kwargs: Any) -> tuple[None, int]:
        """End the list subscription ``request_id`` (all of them without one): 204."""
        observer = self.bound_observer("handle_list_change")
        subscriptions = self._list_subscriptions()
        if request_id is None:
            subscriptions.clear()
        else:
            subscriptions.pop(request_id_key(request_id), None)
        self._count_list_subscriptions()
        await observer.unsubscribe(self, request_id=request_id)
        return None, status.HTTP_204_NO_CONTENT
