"""``@action`` and ``@detached``: how a consumer method becomes callable over the socket.

Only methods carrying an :class:`ActionSpec` (set by ``@action``) are ever
dispatched; the consumer builds an explicit registry from them when its class
is created, so a client can never reach an attribute by naming it.

A sync action is also callable from Python the way DCRF users call it: from
async code ``await self.create(data=...)`` runs it in an action thread and
gives its ``(data, status)``; from sync code (another sync action, already in
an action thread) ``self.create(data=...)`` runs it in place. Frames from the
wire never go through that wrapper: the frame worker calls the undecorated
function (``ActionSpec.func``) inside its own batched hop.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from asgiref.sync import AsyncToSync, SyncToAsync
from django.conf import settings
from django.db import transaction

from streams.threads import run_in_action_thread

F = TypeVar("F", bound=Callable[..., Any])

ACTION_SPEC_ATTR = "_streams_action_spec"


@dataclass(frozen=True)
class ActionSpec:
    """What ``@action`` recorded about a method."""

    name: str | None
    atomic: bool | None
    detached: bool
    is_async: bool
    extra: dict[str, Any] = field(default_factory=dict)
    #: The HTTP method wrapped DRF permissions, throttles and serializer
    #: context requests see for this action; ``None``: decided by the name
    #: (see :func:`streams.scope_utils.method_for_action`).
    method: str | None = None
    #: Throttles for this action only, replacing the consumer's
    #: ``throttle_classes``; ``None``: the consumer's.
    throttle_classes: tuple[Any, ...] | None = None
    #: ``ScopedRateThrottle``'s scope for this action; ``None``: the consumer's
    #: ``throttle_scope``.
    throttle_scope: str | None = None
    #: The undecorated method: what the frame worker runs for a sync action.
    func: Callable[..., Any] | None = field(default=None, compare=False, repr=False)

    def is_atomic(self) -> bool:
        """``atomic=None`` follows ``DATABASES["default"]["ATOMIC_REQUESTS"]``, as DCRF did."""
        if self.atomic is not None:
            return self.atomic
        return bool(settings.DATABASES.get("default", {}).get("ATOMIC_REQUESTS", False))


#: Methods an action may declare: what DRF permissions know how to judge.
HTTP_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})


def _checked_method(method: Any, where: str) -> str | None:
    if method is None:
        return None
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        raise ValueError(
            f"@action(method={method!r}) on {where}: the method must be one of "
            f'{", ".join(sorted(HTTP_METHODS))} (e.g. method="GET" for an action that '
            "only reads)."
        )
    return method.upper()


def action(
    name: str | None = None,
    atomic: bool | None = None,
    detached: bool | None = None,
    *,
    method: str | None = None,
    throttle_classes: Any = None,
    throttle_scope: str | None = None,
    **kwargs: Any,
) -> Callable[[F], F]:
    """Mark a consumer method as an action clients may call.

    - ``name``: the action name on the wire (default: the method name).
    - ``atomic``: run a sync action inside ``transaction.atomic`` (default from
      ``ATOMIC_REQUESTS``). Async actions manage their own transactions, so
      ``atomic=True`` on them is an error.
    - ``detached``: run an async action as its own task so slow work does not
      hold up the stream's later messages (replies may then arrive out of order).
      Sync actions already leave the event loop, so ``detached=True`` on them
      is an error.
    - ``method``: the HTTP method wrapped DRF permissions (and throttles, and
      the serializer context's request) see for this action. Without it the
      standard names map to their verbs (``list``/``retrieve`` GET, ``create``
      POST, ``update`` PUT, ``patch`` PATCH, ``delete`` DELETE) and every
      other action is a ``POST``: an action nobody declared safe is judged as
      a write, so ``DjangoModelPermissions`` cannot be bypassed by a custom
      action. Declare ``method="GET"`` on custom actions that only read.
    - ``throttle_classes`` / ``throttle_scope``: this action's throttles (DRF
      classes, see :mod:`streams.throttling`), replacing the consumer's.
    - any other keyword is kept in ``ActionSpec.extra`` for permission classes
      and other policies to read.
    """

    def decorator(func: F) -> F:
        is_async = inspect.iscoroutinefunction(func)
        if atomic and is_async:
            raise ValueError(
                f"@action(atomic=True) cannot be used on the async method {func.__qualname__}: "
                "wrap the database work in `database_sync_to_async` with `transaction.atomic` "
                "instead, or make the action sync."
            )
        if detached and not is_async:
            raise ValueError(
                f"@action(detached=True) needs an async method, but {func.__qualname__} is sync: "
                "make it `async def`, or drop detached=True (sync actions already run off "
                "the event loop)."
            )
        if throttle_scope is not None and not isinstance(throttle_scope, str):
            raise ValueError(
                f"@action(throttle_scope={throttle_scope!r}) on {func.__qualname__}: the scope "
                "must be a string naming a rate in DEFAULT_THROTTLE_RATES."
            )
        spec = ActionSpec(
            name=name,
            atomic=atomic,
            detached=bool(detached),
            is_async=is_async,
            extra=dict(kwargs),
            method=_checked_method(method, func.__qualname__),
            throttle_classes=None if throttle_classes is None else tuple(throttle_classes),
            throttle_scope=throttle_scope,
            func=func,
        )
        if is_async:
            setattr(func, ACTION_SPEC_ATTR, spec)
            return func
        caller = _sync_action_caller(func, spec)
        setattr(caller, ACTION_SPEC_ATTR, spec)
        return caller  # type: ignore[return-value]

    return decorator


def get_action_spec(func: Any) -> ActionSpec | None:
    return getattr(func, ACTION_SPEC_ATTR, None)


def run_sync_action(spec: ActionSpec, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a sync action's function here and now, in ``transaction.atomic`` when atomic."""
    if spec.is_atomic():
        with transaction.atomic():
            return func(*args, **kwargs)
    return func(*args, **kwargs)


def _sync_action_caller(func: Callable[..., Any], spec: ActionSpec) -> Callable[..., Any]:
    """The method a sync ``@action`` leaves on the class, for calls from Python.

    On an event loop (async code) the call returns a coroutine: awaiting it runs
    the action off the loop and gives its result, as DCRF's
    ``database_sync_to_async`` wrapper did. Anywhere else (a sync action
    calling another, in its action thread) it runs at once and returns the
    result: hopping again would only cost a thread and could deadlock a full
    pool.
    """

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return run_sync_action(spec, func, *args, **kwargs)
        return _hop(spec, func, args, kwargs)

    return call


async def _hop(
    spec: ActionSpec, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    run = functools.partial(run_sync_action, spec, func, *args, **kwargs)
    if getattr(AsyncToSync.executors, "current", None) is not None:
        # This coroutine runs for ``async_to_sync`` called from a sync thread
        # (e.g. an action thread), which is blocked waiting for it: run the
        # action in that thread, as asgiref does, instead of taking a pool
        # thread the blocked one may be holding the last of.
        return await SyncToAsync(run, thread_sensitive=True)()
    return await run_in_action_thread(run)


def detached(
    func: Callable[..., Awaitable[Any]],
) -> Callable[..., Coroutine[Any, Any, asyncio.Task[Any]]]:
    """Run an async consumer method as a background task instead of awaiting it.

    ``await self.method(...)`` starts the task and returns it at once, as in
    DCRF; awaiting the returned task waits for the work itself. The consumer
    keeps every such task and cancels all of them on disconnect (DCRF
    cancelled only every other one, because it removed items from the list it
    was iterating).
    """
    if not inspect.iscoroutinefunction(func):
        raise ValueError(
            f"@detached needs an async method, but {func.__qualname__} is sync: make it `async def`."
        )

    @functools.wraps(func)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = self.start_detached(func(self, *args, **kwargs))
        return task

    return wrapper
