"""The permissions we ship: ``AllowAny`` and ``IsAuthenticated`` (DCRF's names)."""

from __future__ import annotations

from typing import Any

from streams.permissions.base import BasePermission
from streams.permissions.decisions import Decision


class AllowAny(BasePermission):
    """Allows every action (and so ``~AllowAny`` refuses every action)."""

    def has_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, **kwargs: Any
    ) -> Decision:
        return True


class IsAuthenticated(BasePermission):
    """Allows actions only to an authenticated ``scope["user"]``.

    Connections are still accepted, so anonymous clients get a 403 per action
    and the socket's public streams keep working.
    """

    def has_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, **kwargs: Any
    ) -> Decision:
        user = scope.get("user")
        return bool(user is not None and user.is_authenticated)
