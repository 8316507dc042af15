"""Custom handlers that honour the consumer's ``get_queryset()``: ``@model_observer(M, scoped=True)``.

A DCRF-style handler gets every event of the groups it subscribed to. When the
consumer scopes its objects per user (``get_queryset()``), that forwards
objects the user may not see, and keeps forwarding an object after it was
handed to someone else. ``scoped=True`` puts the handler behind the same check
the generic mixins use (:mod:`streams.observer.membership`):

- ``subscribe()`` compiles the consumer's ``get_queryset()`` once (in the
  database thread), as the generic mixins do;
- a ``create`` / ``update`` reaches the handler only while the object is in
  that queryset (asked once per event and distinct queryset per process, in
  batches);
- an object that leaves it reaches the handler once more, as ``delete`` with
  the body ``{"pk": pk}``, if the handler was told about it before;
- a deletion reaches the handler only for objects it was told about since
  subscribing: the row is gone, so the database can no longer say whose it
  was. Memory: one pk per object told about, per consumer and observer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from django.core.exceptions import ImproperlyConfigured

from streams.observer import membership
from streams.observer.events import pk_from_event

if TYPE_CHECKING:
    from streams.observer.model_observer import ModelObserver

#: ``{observer_id: Scope}`` on the consumer instance.
SCOPES_ATTR = "_streams_observer_handler_scopes"
#: ``{observer_id: {pk, ...}}``: objects the handler was told about.
SEEN_ATTR = "_streams_observer_handler_seen"


def _state(consumer: Any, attr: str) -> dict[str, Any]:
    state: dict[str, Any] | None = consumer.__dict__.get(attr)
    if state is None:
        state = consumer.__dict__[attr] = {}
    return state


async def compile_scope(observer: ModelObserver, consumer: Any) -> None:
    """Compile ``consumer.get_queryset()`` for ``observer`` (before its groups are joined)."""
    if not callable(getattr(consumer, "get_queryset", None)):
        raise ImproperlyConfigured(
            f"{observer!r} is scoped=True but {type(consumer).__qualname__} has no "
            "get_queryset(): use a GenericAsyncAPIConsumer subclass, or drop scoped=True."
        )

    def build() -> membership.Scope:
        queryset = consumer.get_queryset()
        if not issubclass(queryset.model, observer.model_cls):
            raise ImproperlyConfigured(
                f"{observer!r} is scoped=True but {type(consumer).__qualname__}.get_queryset() "
                f"returns {queryset.model._meta.label} objects, not "
                f"{observer.model_cls._meta.label}: scope only observers of the consumer's model."
            )
        return membership.scope_of(queryset)

    _state(consumer, SCOPES_ATTR)[observer.observer_id] = await database_sync_to_async(build)()


def forget(observer: ModelObserver, consumer: Any) -> None:
    """The observer holds no subscription on ``consumer`` any more."""
    _state(consumer, SCOPES_ATTR).pop(observer.observer_id, None)
    _state(consumer, SEEN_ATTR).pop(observer.observer_id, None)


async def visible_message(
    observer: ModelObserver, consumer: Any, message: dict[str, Any]
) -> dict[str, Any] | None:
    """``message`` as this consumer may receive it, or ``None`` (see the module docstring)."""
    event = message.get("event")
    scope = _state(consumer, SCOPES_ATTR).get(observer.observer_id)
    if not event or scope is None:
        return None  # nothing to check against: fail closed
    seen: set[Any] = _state(consumer, SEEN_ATTR).setdefault(observer.observer_id, set())
    pk = pk_from_event(event)
    if message.get("action") == "delete":
        if pk in seen:
            seen.discard(pk)
            return message
        return None
    [inside] = await membership.contains(event, [scope])
    if inside:
        seen.add(pk)
        return message
    if inside is False and pk in seen:
        seen.discard(pk)
        return {**message, "action": "delete", "body": {"pk": event["pk"]}}
    return None
