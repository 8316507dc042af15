"""``ObserverModelListMixin``: live updates of ``list``'s filtered set.

``subscribe_list`` / ``unsubscribe_list`` take ``list``'s filter keys; pushes
are ``create`` (201), ``update`` (200) and ``delete`` (204) as objects enter,
change in, or leave the set (filters, ``get_queryset()``, permissions). Whether
a changed object is in a set is asked of the database once per event and
distinct compiled queryset per process (:mod:`streams.observer.membership`).
docs/OBSERVERS.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from channels.db import database_sync_to_async
from django.db.models import QuerySet
from rest_framework import status

from streams.decorators import action
from streams.errors import ActionError
from streams.generics import without
from streams.observer import delivery, history, membership
from streams.observer.consumer_mixin import ObserverConsumerMixin, ObserverTemplate
from streams.observer.events import pk_from_event
from streams.observer.groups import request_id_key
from streams.settings import api_settings

__all__ = ["ObserverModelListMixin"]


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
