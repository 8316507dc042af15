"""Throttling the DRF way: ``throttle_classes`` on consumers and on actions.

DRF's own throttles (``AnonRateThrottle``, ``UserRateThrottle``,
``ScopedRateThrottle`` or any ``rest_framework.throttling.BaseThrottle``) are
used unchanged: each is asked ``allow_request(request, view)`` with a DRF
request built from the websocket scope (the handshake's headers and client
address, the scope's user, the action's HTTP method) and the consumer as the
view. Their history lives in Django's cache, so with a shared cache (Redis,
Memcached, the database) a limit holds across every server process, and the
same rate counts HTTP requests and socket actions alike when both use it.

A refusal is DRF's ``Throttled``: a 429 reply whose error is DRF's detail with
the wait, ``"Request was throttled. Expected available in 3 seconds."``.

Where throttles come from, as in DRF:

* ``@action(throttle_classes=[...])``: that action's own list;
* else the consumer's ``throttle_classes``;
* else ``api_settings.DEFAULT_THROTTLE_CLASSES`` (default: none).

``ScopedRateThrottle`` reads ``throttle_scope`` from the view: the action's
``@action(throttle_scope=...)``, else the consumer's attribute. Rates come from
DRF's own ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``, which DRF reads once
at import (a DRF property, not ours).

Throttles do cache I/O, which may be network I/O, so on the event loop they
run in the action pool (:mod:`streams.threads`); inside a batch of sync
actions they run in place, in that batch's thread. A consumer with no
throttles pays nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from streams.scope_utils import drf_request_from_scope
from streams.settings import api_settings
from streams.threads import run_in_action_thread

__all__ = [
    "ActionView",
    "check_throttles",
    "check_throttles_sync",
    "get_throttle_classes",
    "get_throttle_instances",
]


class ActionView:
    """What a throttle sees as the view when the action overrides ``throttle_scope``.

    Everything else is read from the consumer, so throttles that look at
    other view attributes behave as with the consumer itself. ``action`` is
    set as a DRF ``ViewSet`` sets it, for throttles that key on it.
    """

    __slots__ = ("_consumer", "action", "throttle_scope")

    def __init__(self, consumer: Any, action: str, throttle_scope: str | None) -> None:
        self._consumer = consumer
        self.action = action
        self.throttle_scope = throttle_scope

    def __getattr__(self, name: str) -> Any:
        return getattr(self._consumer, name)


def _spec_of(consumer: Any, action: str) -> Any:
    entry = getattr(consumer, "actions", {}).get(action)
    return getattr(entry, "spec", None)


def get_throttle_classes(consumer: Any, action: str) -> tuple[Any, ...]:
    """The throttle classes (or instances) that apply to ``action`` of ``consumer``."""
    spec = _spec_of(consumer, action)
    if spec is not None and spec.throttle_classes is not None:
        return tuple(spec.throttle_classes)
    classes = getattr(consumer, "throttle_classes", None)
    if classes is None:
        classes = api_settings.DEFAULT_THROTTLE_CLASSES
    return tuple(classes or ())


def _instance(entry: Any, consumer: Any) -> Any:
    if isinstance(entry, type) and issubclass(entry, BaseThrottle):
        return entry()
    if isinstance(entry, BaseThrottle):
        return entry
    if isinstance(entry, type) and callable(getattr(entry, "allow_request", None)):
        return entry()  # a duck-typed throttle class, as DRF accepts
    if callable(getattr(entry, "allow_request", None)):
        return entry
    raise TypeError(
        f"{entry!r} in {type(consumer).__qualname__}'s throttle_classes is not a throttle: "
        "list rest_framework.throttling classes (AnonRateThrottle, UserRateThrottle, "
        "ScopedRateThrottle...) or classes with allow_request(request, view) and wait()."
    )


def get_throttle_instances(consumer: Any, action: str) -> list[Any]:
    """Fresh throttle instances for one check: DRF's throttles keep state per request."""
    return [_instance(entry, consumer) for entry in get_throttle_classes(consumer, action)]


def _view_for(consumer: Any, action: str) -> Any:
    spec = _spec_of(consumer, action)
    if spec is not None and spec.throttle_scope is not None:
        return ActionView(consumer, action, spec.throttle_scope)
    return consumer


def check_throttles_sync(
    consumer: Any, action: str, throttles: Iterable[Any] | None = None
) -> None:
    """Raise DRF's ``Throttled`` (429, with the wait) when a throttle refuses.

    Like DRF's ``APIView.check_throttles``, every throttle is asked (each
    records the request it allows) and the wait is the longest of those that
    refused. Sync: throttles read and write Django's cache.
    """
    if throttles is None:
        throttles = get_throttle_instances(consumer, action)
    throttles = list(throttles)
    if not throttles:
        return
    request = drf_request_from_scope(consumer.scope, action, consumer)
    view = _view_for(consumer, action)
    waits: list[float] = []
    refused = False
    for throttle in throttles:
        if not throttle.allow_request(request, view):
            refused = True
            wait = throttle.wait()
            if wait is not None:
                waits.append(wait)
    if refused:
        raise Throttled(wait=max(waits) if waits else None)


async def check_throttles(consumer: Any, action: str) -> None:
    """:func:`check_throttles_sync` from the event loop: in the action pool, if any apply."""
    throttles = get_throttle_instances(consumer, action)
    if throttles:
        await run_in_action_thread(check_throttles_sync, consumer, action, throttles)
