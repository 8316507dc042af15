"""Asking a DRF permission about a websocket action.

DRF permissions judge HTTP requests made to views. Over a socket there is
neither, so :func:`ask_drf` builds the request from the scope (see
:mod:`streams.scope_utils`) and passes the consumer as the view.

The request's method follows the action: the method it declares
(``@action(method="GET")``), else the standard verb of its name (list and
retrieve GET, create POST, update PUT, patch PATCH, delete DELETE), else
``POST``, so an undeclared custom action is judged as a write. ``META`` holds
the handshake headers as ``HTTP_*``, where DRF authentication and permissions
look. The consumer is the view, so ``DjangoModelPermissions`` finds
``get_queryset()``/``queryset`` on it. The connection is judged as in DCRF:
``has_permission`` with a ``HEAD`` request, the action being ``"connect"``.

DRF permissions are sync and may query the database (``user.has_perm``):
asked on the event loop they run in the database thread; asked from the
database thread (object checks inside sync actions) they run in place.

:class:`streams.permissions.WrappedDRFPermission` is the permission that
uses this; this module knows nothing of our permission classes.
"""

from __future__ import annotations

import inspect
from typing import Any

from channels.db import database_sync_to_async
from rest_framework import permissions as drf_permissions

from streams.permissions.decisions import Decision, as_bool, on_event_loop
from streams.scope_utils import drf_request_from_scope


def ask_drf(
    permission: drf_permissions.BasePermission,
    scope: dict[str, Any],
    consumer: Any,
    action: str,
    *obj: Any,
) -> Decision:
    """DRF's ``has_permission`` (no ``obj``) or ``has_object_permission`` (one ``obj``).

    The answer is a bool, or an awaitable of one when the hook has to run in
    the database thread or is itself async.
    """
    hook = permission.has_object_permission if obj else permission.has_permission
    if inspect.iscoroutinefunction(hook):
        # An async DRF-style hook needs no thread.
        return as_bool(_ask(permission, scope, consumer, action, *obj))
    if on_event_loop():
        return as_bool(database_sync_to_async(_ask)(permission, scope, consumer, action, *obj))
    return as_bool(_ask(permission, scope, consumer, action, *obj))


def _ask(
    permission: drf_permissions.BasePermission,
    scope: dict[str, Any],
    consumer: Any,
    action: str,
    *obj: Any,
) -> Any:
    request = drf_request_from_scope(scope, action, consumer)
    if obj:
        return permission.has_object_permission(request, consumer, obj[0])
    return permission.has_permission(request, consumer)
