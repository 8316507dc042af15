"""Who may do what on the demo's streams.

Anyone may read (list, retrieve, subscribe, custom read actions); writing is
for signed-in users: everyone writes their own reviews, and staff edit the
catalogue and any review. Writes are named explicitly, so a new read-only
custom action needs no change here, and an unknown action can't slip through
as a write because dispatch only reaches declared actions.
"""

from __future__ import annotations

from typing import Any

from streams.permissions import BasePermission

WRITE_ACTIONS = frozenset({"create", "update", "patch", "delete"})


def _user(scope: dict[str, Any]) -> Any:
    return scope.get("user")


def is_signed_in(scope: dict[str, Any]) -> bool:
    user = _user(scope)
    return bool(user is not None and user.is_authenticated)


def is_staff(scope: dict[str, Any]) -> bool:
    return is_signed_in(scope) and bool(_user(scope).is_staff)


class ReadOnlyUnlessStaff(BasePermission):
    """The catalogue (authors, books, tags): everyone reads, staff write."""

    message = "Only staff may change the catalogue; reviews are open to every signed-in user."

    def has_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, **kwargs: Any
    ) -> bool:
        return action not in WRITE_ACTIONS or is_staff(scope)


class ReadOnly(BasePermission):
    message = "This stream is read-only."

    def has_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, **kwargs: Any
    ) -> bool:
        return action not in WRITE_ACTIONS


class ReviewPermission(BasePermission):
    """Reviews: everyone reads, signed-in users write, and only their own reviews
    (staff may edit any)."""

    message = "Sign in to write reviews; you can only change your own."

    def has_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, **kwargs: Any
    ) -> bool:
        return action not in WRITE_ACTIONS or is_signed_in(scope)

    def has_object_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, obj: Any, **kwargs: Any
    ) -> bool:
        if action not in WRITE_ACTIONS:
            return True
        user = _user(scope)
        return is_staff(scope) or (is_signed_in(scope) and obj.user_id == user.pk)
