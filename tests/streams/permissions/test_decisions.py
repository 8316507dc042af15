"""Sync/async glue: a composition of sync permissions answers synchronously."""

from __future__ import annotations

import inspect
from typing import Any

from tests.streams.permissions.support import calls_of, make_perm


def test_sync_composition_stays_sync():
    yes, no = make_perm(True, "sync", "Y"), make_perm(False, "sync", "N")
    scope: dict[str, Any] = {}
    result = ((yes & no) | ~no)().has_permission(scope, None, "go")
    assert result is True
    assert calls_of(scope) == ["Y", "N", "N"]


async def test_async_operand_makes_an_awaitable():
    yes, later = make_perm(True, "sync", "Y"), make_perm(False, "async", "L")
    result = (yes & later)().has_permission({}, None, "go")
    assert inspect.isawaitable(result)
    assert await result is False
