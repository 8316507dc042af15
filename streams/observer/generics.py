"""Subscription actions for model consumers: one instance, or a filtered list.

The names DCRF users import, kept here: ``ObserverModelInstanceMixin``
(:mod:`streams.observer.instance_mixin`), ``ObserverModelListMixin``
(:mod:`streams.observer.list_mixin`) and what both build on,
``ObserverConsumerMixin``, ``ObserverTemplate`` and
``ObserverAPIConsumerMetaclass`` (:mod:`streams.observer.consumer_mixin`).
What a subscriber sees is described in ``docs/OBSERVERS.md``.
"""

from __future__ import annotations

from streams.observer.consumer_mixin import (
    SUBSCRIBE_ACTIONS,
    ObserverAPIConsumerMetaclass,
    ObserverConsumerMixin,
    ObserverTemplate,
)
from streams.observer.instance_mixin import ObserverModelInstanceMixin
from streams.observer.list_mixin import (
    LIST_COUNTS_KEY,
    TOO_MANY_LIST_SUBSCRIPTIONS_MESSAGE,
    ObserverModelListMixin,
)

__all__ = [
    "LIST_COUNTS_KEY",
    "SUBSCRIBE_ACTIONS",
    "TOO_MANY_LIST_SUBSCRIPTIONS_MESSAGE",
    "ObserverAPIConsumerMetaclass",
    "ObserverConsumerMixin",
    "ObserverModelInstanceMixin",
    "ObserverModelListMixin",
    "ObserverTemplate",
]
