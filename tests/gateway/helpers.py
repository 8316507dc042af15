"""Assertions shared by the gateway tests (and tests/security)."""

from __future__ import annotations

import asyncio
from typing import Any

ERROR_KEYS = {"errors", "data", "action", "response_status", "request_id"}


def assert_error(payload: Any, status: int, action: Any = None, request_id: Any = None) -> str:
    """Check the exact error-frame payload shape; return its message."""
    assert set(payload) == ERROR_KEYS
    assert payload["response_status"] == status
    assert payload["data"] is None
    assert payload["action"] == action
    assert payload["request_id"] == request_id
    assert isinstance(payload["errors"], list) and len(payload["errors"]) == 1
    assert isinstance(payload["errors"][0], str)
    return str(payload["errors"][0])


def live_tasks() -> set[asyncio.Task[Any]]:
    """Every task of the loop except the test's own."""
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
