"""Build Django/DRF request objects from a websocket scope.

Serializers, DRF permission classes and wrapped views expect an HTTP request.
The websocket handshake was one, so its headers, user and session are carried
over; the method follows HTTP conventions for the action being run.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from channels.db import database_sync_to_async
from django.http import HttpRequest, QueryDict
from rest_framework.request import Request

#: HTTP method a DRF permission or view sees for each standard action.
ACTION_METHODS: Mapping[str, str] = MappingProxyType(
    {
        "create": "POST",
        "update": "PUT",
        "patch": "PATCH",
        "delete": "DELETE",
        "list": "GET",
        "retrieve": "GET",
        # DCRF asked DRF permissions about the connection with a HEAD request.
        "connect": "HEAD",
    }
)


def ensure_async(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` if it is a coroutine function, else it wrapped to run in the database thread.

    DCRF's helper: ``await ensure_async(hook)(...)`` calls a hook that may be
    sync (and query the database) or async without knowing which.
    """
    if inspect.iscoroutinefunction(method):
        return method
    return database_sync_to_async(method)


#: The method of an action that declares none and has no standard name. A
#: write, so that permissions which let reads through (``DjangoModelPermissions``,
#: ``IsAuthenticatedOrReadOnly``) judge an undeclared action as the riskier kind.
UNDECLARED_ACTION_METHOD = "POST"


def method_for_action(action: str | None, consumer: Any = None) -> str:
    """The HTTP method DRF code sees for ``action``.

    In order: the method the action declared (``@action(method=...)``, read
    from ``consumer.actions``, the class's registry), the standard verb of a
    CRUD name (:data:`ACTION_METHODS`), else ``POST``
    (:data:`UNDECLARED_ACTION_METHOD`). DCRF treated every custom action as a
    ``GET``, which let a custom write pass ``DjangoModelPermissions`` without
    any permission.
    """
    name = action or ""
    registry = getattr(consumer, "actions", None)
    if registry is not None:
        entry = registry.get(name)
        method = getattr(getattr(entry, "spec", None), "method", None)
        if method is not None:
            return str(method)
    return ACTION_METHODS.get(name, UNDECLARED_ACTION_METHOD)


def _meta_from_scope(scope: Mapping[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin1").upper().replace("-", "_")
        value = raw_value.decode("latin1")
        # Where Django's WSGI/ASGI handlers put them, so DRF finds e.g.
        # HTTP_AUTHORIZATION (DCRF stored raw lower-case names instead).
        key = name if name in ("CONTENT_LENGTH", "CONTENT_TYPE") else f"HTTP_{name}"
        meta[key] = f"{meta[key]},{value}" if key in meta else value
    client = scope.get("client")
    if client:
        meta["REMOTE_ADDR"], meta["REMOTE_PORT"] = client[0], client[1]
    server = scope.get("server")
    if server:
        meta["SERVER_NAME"], meta["SERVER_PORT"] = server[0], str(server[1])
    meta["PATH_INFO"] = scope.get("path", "/")
    meta["QUERY_STRING"] = scope.get("query_string", b"").decode("latin1")
    meta["wsgi.url_scheme"] = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return meta


class ScopeRequest(HttpRequest):
    """An ``HttpRequest`` whose scheme is the websocket's (``wss`` is secure)."""

    def _get_scheme(self) -> str:
        return str(self.META.get("wsgi.url_scheme", "http"))


def request_from_scope(
    scope: Mapping[str, Any],
    method: str = "GET",
    query: Mapping[str, Any] | None = None,
) -> HttpRequest:
    """A Django ``HttpRequest`` carrying the scope's headers, user and session."""
    request = ScopeRequest()
    request.method = method
    request.path = request.path_info = scope.get("path", "/")
    request.META = _meta_from_scope(scope)
    request.META["REQUEST_METHOD"] = method
    if query is not None:
        get = QueryDict(mutable=True)
        for key, value in query.items():
            if isinstance(value, list | tuple):
                get.setlist(key, [str(v) for v in value])
            else:
                get[key] = str(value)
        get._mutable = False
        request.GET = get  # type: ignore[assignment]
    else:
        request.GET = QueryDict(request.META["QUERY_STRING"])
    if "user" in scope:
        request.user = scope["user"]
    if "session" in scope:
        request.session = scope["session"]
    return request


def drf_request_from_scope(
    scope: Mapping[str, Any],
    action: str | None = None,
    consumer: Any = None,
    *,
    method: str | None = None,
    **kwargs: Any,
) -> Request:
    """A DRF ``Request`` for ``action``, authenticated as the scope's user.

    No authenticators run: the user was authenticated at the handshake (e.g.
    by ``AuthMiddlewareStack``), so it is set directly. ``consumer`` (whose
    action registry may declare the method) decides the HTTP method with
    ``action``; see :func:`method_for_action`. ``method`` overrides both (e.g.
    ``HEAD`` for a connect, which is no action).
    """
    if method is None:
        method = method_for_action(action, consumer)
    http_request = request_from_scope(scope, method=method, **kwargs)
    request = Request(http_request, authenticators=())
    if "user" in scope:
        request.user = scope["user"]
    return request
