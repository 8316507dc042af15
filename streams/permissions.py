"""Permissions: who may connect, run an action, or see an object.

Signatures follow DCRF: ``has_permission(scope, consumer, action, **kwargs)``,
``can_connect(scope, consumer, message)`` and, new here,
``has_object_permission(scope, consumer, action, obj, **kwargs)``. Each may be
sync or async.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class BasePermission:
    """Allows everything; subclass and override what you restrict."""

    message: str | None = None

    def has_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, **kwargs: Any
    ) -> Any:
        return True

    def can_connect(self, scope: dict[str, Any], consumer: Any, message: Any = None) -> Any:
        return True

    def has_object_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, obj: Any, **kwargs: Any
    ) -> Any:
        return True


class AllowAny(BasePermission):
    pass


class IsAuthenticated(BasePermission):
    def has_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, **kwargs: Any
    ) -> Any:
        user = scope.get("user")
        return bool(user is not None and user.is_authenticated)


def get_permission_instances(classes: Iterable[Any]) -> list[BasePermission]:
    return [cls() for cls in classes]
