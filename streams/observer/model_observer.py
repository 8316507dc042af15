"""``ModelObserver``: events for the creates, updates and deletes of one model.

The writing process turns each committed change into messages, one per group
the object is in, all for one event (``docs/OBSERVERS.md``):

- groups the object left get ``delete``, groups it stayed in ``update``, groups
  it entered ``create``;
- the body comes from the ``serializer`` hook, else ``serializer_class``, else
  ``{"pk": pk}``, computed once per action kind and event, and only for action
  kinds with a group that may have a member (see ``sending.group_probe``);
- each message also carries the event envelope (:mod:`streams.observer.events`).

To know which groups an object leaves, an observer with its own
``groups_for_signal`` reads the stored row once in ``pre_save`` (one query per
write, never per load). Pass ``track_moves=False`` when the groups can only
depend on the pk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any

from django.db.models import Model

from streams.observer import scoped
from streams.observer.base_observer import BaseObserver, Hook, subscriptions_of
from streams.observer.events import jsonable_pk, model_label, to_jsonable
from streams.observer.registry import registry
from streams.observer.transactions import CREATE, DELETE, UPDATE, MergedChange

logger = logging.getLogger(__name__)


class Action(Enum):
    CREATE = CREATE
    UPDATE = UPDATE
    DELETE = DELETE


class ModelObserver(BaseObserver):
    def __init__(
        self,
        func: Callable[..., Any],
        model_cls: type[Model],
        partition: str = "*",
        serializer_class: Any = None,
        many_to_many: bool = False,
        track_moves: bool | None = None,
        history: Any = None,
        scoped: bool = False,
    ) -> None:
        if not (isinstance(model_cls, type) and issubclass(model_cls, Model)):
            raise TypeError(
                f"@model_observer needs a model class, got {model_cls!r} (on {func.__qualname__})."
            )
        super().__init__(func, partition=partition, history=history)
        self.model_cls = model_cls
        self.serializer_class = serializer_class
        self.many_to_many = many_to_many
        self._track_moves = track_moves
        #: Deliver only objects in the consumer's ``get_queryset()`` (streams.observer.scoped).
        self.scoped = scoped
        registry.register(self)

    @property
    def model_label(self) -> str:
        return model_label(self.model_cls)

    @property
    def tracks_moves(self) -> bool:
        """Does a write need the stored row's groups? Only with custom signal groups."""
        if self._track_moves is not None:
            return self._track_moves
        return self._groups_for_signal is not None

    def groups_for_signal(self, func: Hook) -> ModelObserver:
        super().groups_for_signal(func)
        registry.hooks_changed(self)  # now it may track moves: pre_save is needed
        return self

    def groups(self, func: Hook) -> ModelObserver:
        super().groups(func)
        registry.hooks_changed(self)
        return self

    def default_group_suffixes(self, *args: Any, **kwargs: Any) -> tuple[str, ...]:
        return (f"model:{self.model_label}",)

    # ------------------------------------------------ scoped=True handlers
    async def subscribe(
        self, consumer: Any, *args: Any, request_id: Any = None, **kwargs: Any
    ) -> list[str]:
        if self.scoped:
            # Compiled before joining: an event may arrive as soon as a group is.
            await scoped.compile_scope(self, consumer)
        try:
            return await super().subscribe(consumer, *args, request_id=request_id, **kwargs)
        except BaseException:
            if self.scoped and not subscriptions_of(consumer).get(self.observer_id):
                scoped.forget(self, consumer)
            raise

    async def drop(
        self, consumer: Any, groups: Any, request_id: Any = None, everything: bool = False
    ) -> None:
        await super().drop(consumer, groups, request_id=request_id, everything=everything)
        if self.scoped and not subscriptions_of(consumer).get(self.observer_id):
            scoped.forget(self, consumer)

    async def deliver(
        self,
        consumer: Any,
        message: dict[str, Any],
        request_ids: list[Any],
        replayed: bool = False,
    ) -> None:
        """Scoped handlers: filtered here, after ordering, so that a message
        replayed from the history passes the same check as a live one."""
        if self.scoped:
            try:
                visible = await scoped.visible_message(self, consumer, message)
            except Exception:
                logger.exception(
                    "%r: could not tell whether %s's object is in %s's queryset; "
                    "event dropped for this consumer.",
                    self,
                    message.get("action"),
                    type(consumer).__qualname__,
                )
                return
            if visible is None:
                return
            message = visible
        await super().deliver(consumer, message, request_ids, replayed=replayed)

    def signal_groups(self, instance: Model) -> frozenset[str]:
        return frozenset(self.group_names_for_signal(instance=instance))

    # ------------------------------------------------------------- messages
    def serialize(self, instance: Model, action: Action, **kwargs: Any) -> Any:
        """The message body for ``instance``; plain JSON types whatever the hook returns."""
        if self._serializer is not None:
            body = self._serializer(self, instance, action, **kwargs)
        elif self.serializer_class is not None:
            body = self.serializer_class(instance).data
        else:
            body = {"pk": jsonable_pk(instance.pk)}
        return to_jsonable(body)

    def messages_for(
        self,
        change: MergedChange,
        envelope: Callable[[], dict[str, Any]],
        live: Callable[[str], bool] | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """The ``(group, message)`` pairs of one committed change.

        ``envelope()`` gives the event envelope (built on first use);
        ``live(group)``, when given, says whether a group may have a member:
        groups it refuses get no message, and an action kind left without
        groups is not serialized.
        """
        final = change.last.instance
        if change.last.action == DELETE:
            new: frozenset[str] = frozenset()
            old = self._groups_before(change)
        else:
            new = self.signal_groups(final)
            old = frozenset() if change.created else self._groups_before(change, default=new)
        for action, groups in (
            (Action.DELETE, old - new),
            (Action.UPDATE, old & new),
            (Action.CREATE, new - old),
        ):
            targets = sorted(groups if live is None else filter(live, groups))
            if not targets:
                continue
            message = {
                "type": self.message_type,
                "body": self.serialize(final, action),
                "action": action.value,
                "event": envelope(),
            }
            for group in targets:
                yield group, dict(message, group=group)

    def _groups_before(
        self, change: MergedChange, default: frozenset[str] | None = None
    ) -> frozenset[str]:
        first = change.first
        if first.old_groups is not None and self.observer_id in first.old_groups:
            return first.old_groups[self.observer_id]
        if first.action == DELETE or default is None:
            # No stored row was read: the object's groups as it was at the first change.
            return self.signal_groups(first.instance)
        return default
