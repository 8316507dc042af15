"""Observers: push committed model changes (or any signal) to subscribed consumers.

DCRF's API, under the ``streams`` prefix::

    from streams.observer import model_observer

    class CommentConsumer(GenericAsyncAPIConsumer):
        @model_observer(Comment)
        async def comment_activity(self, message, observer=None, action=None,
                                   subscribing_request_ids=(), **kwargs):
            for request_id in subscribing_request_ids:
                await self.reply(data=message, action=action, request_id=request_id)

Ready-made actions are in :mod:`streams.observer.generics`
(``ObserverModelInstanceMixin``, ``ObserverModelListMixin``); bulk writes are
observed through :class:`ObservableQuerySet` / :class:`ObservableManager`.
Deployment and semantics: ``docs/OBSERVERS.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Model
from django.dispatch import Signal

# Imported for its side effect: the observer system checks (E001, E002), registered
# even when the "streams" app, whose ready() would load them, is not installed.
from streams.observer import checks as _checks  # noqa: F401
from streams.observer.base_observer import BaseObserver, BoundObserver
from streams.observer.bulk import ObservableManager, ObservableQuerySet
from streams.observer.model_observer import Action, ModelObserver
from streams.observer.observer import Observer

__all__ = [
    "Action",
    "BaseObserver",
    "BoundObserver",
    "ModelObserver",
    "ObservableManager",
    "ObservableQuerySet",
    "Observer",
    "model_observer",
    "observer",
]


def model_observer(
    model: type[Model],
    serializer_class: Any = None,
    many_to_many: bool = False,
    **kwargs: Any,
) -> Callable[[Callable[..., Any]], ModelObserver]:
    """Decorate an ``async def`` consumer method to receive ``model``'s committed changes.

    ``kwargs``: ``partition`` (namespace of the observer's groups),
    ``track_moves`` (see :class:`ModelObserver`), ``history`` (``True``, a
    dict of ``max_events``/``max_age``, or a ``HistoryPolicy``: keep a bounded
    history per group so reconnecting clients can resume; off by default) and
    ``scoped``: deliver only objects in the consumer's ``get_queryset()``
    (:mod:`streams.observer.scoped`).
    """

    def decorator(func: Callable[..., Any]) -> ModelObserver:
        return ModelObserver(
            func,
            model_cls=model,
            serializer_class=serializer_class,
            many_to_many=many_to_many,
            **kwargs,
        )

    return decorator


def observer(
    signal: Signal, history: Any = None, **kwargs: Any
) -> Callable[[Callable[..., Any]], Observer]:
    """Decorate an ``async def`` consumer method to receive ``signal``'s events.

    ``kwargs`` are passed to ``signal.connect`` (e.g. ``sender=``); ``history``
    as for :func:`model_observer`.
    """

    def decorator(func: Callable[..., Any]) -> Observer:
        return Observer(func, signal=signal, kwargs=kwargs, history=history)

    return decorator
