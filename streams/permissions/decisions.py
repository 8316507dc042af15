"""Sync/async glue for permission hooks: a decision is a bool or an awaitable of one.

Permission hooks may be sync or async. Combining their results through these
helpers awaits only when an operand actually returned an awaitable, so a
composition of sync permissions stays fully synchronous and costs no
event-loop hop when object permissions are checked in the database thread.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

#: What a permission hook returns: a bool, or an awaitable of one.
Decision = Any


def then(result: Decision, step: Callable[[Any], Decision]) -> Decision:
    """Apply ``step`` to ``result``, awaiting first only if ``result`` is awaitable.

    This keeps compositions of sync operands fully synchronous.
    """
    if inspect.isawaitable(result):
        return _then_async(result, step)
    return step(result)


async def _then_async(result: Awaitable[Any], step: Callable[[Any], Decision]) -> Any:
    value = step(await result)
    if inspect.isawaitable(value):
        value = await value
    return value


def as_bool(result: Decision) -> Decision:
    return then(result, bool)


def negate(value: Any) -> bool:
    return not value


def not_refused(verdict: bool | None) -> bool:
    """A connection goes ahead unless the verdict is a certain refusal."""
    return verdict is not False


def on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
