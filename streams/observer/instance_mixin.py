"""``ObserverModelInstanceMixin``: ``retrieve`` plus live updates of single objects.

DCRF's name and shapes: ``subscribe_instance`` (201, ``data`` null, or the
current object with ``"snapshot": true``), ``unsubscribe_instance`` (204),
then for each change of the object and each subscribing request_id::

    {"action": "update"|"delete", "data": <retrieve data>|{"pk": pk},
     "response_status": 200|204, "request_id": R, "errors": []}

Each push is permission-checked for its subscriber on delivery and follows
the subscriber's ``get_queryset()`` (an object that leaves it ends the
subscription with one ``delete``); the body is serialized once per process
and serializer key (:mod:`streams.observer.delivery`). docs/OBSERVERS.md.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model
from rest_framework import status
from rest_framework.exceptions import NotFound

from streams.decorators import action
from streams.errors import ActionError
from streams.generics import without
from streams.mixins import RetrieveModelMixin
from streams.observer import delivery, history, membership
from streams.observer.consumer_mixin import ObserverConsumerMixin, ObserverTemplate
from streams.observer.events import pk_from_event
from streams.observer.groups import canonical
from streams.observer.model_observer import ModelObserver

__all__ = ["ObserverModelInstanceMixin"]


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
        groups, _ = await self._join_with_scope(observer, pk, scope, request_id)
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
        groups, previous = await self._join_with_scope(observer, pk, scope, request_id)
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
            self._observed_scopes()[pk] = previous
        return None

    async def _join_with_scope(
        self, observer: ModelObserver, pk: Any, scope: membership.Scope, request_id: Any
    ) -> tuple[Any, membership.Scope | None]:
        """Keep ``pk``'s scope, then join its groups: ``(groups, the scope it replaced)``.

        The scope is kept before joining because an event may arrive as soon
        as the group is joined. A refused join (429, 503) leaves nothing
        behind: the previous scope, if any, is put back.
        """
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
        return groups, previous

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
