"""``view_as_consumer``: serve an existing Django or DRF view over the socket.

A message::

    {"action": "retrieve", "request_id": 1,
     "query": {"search": "x"},          # -> request.GET
     "parameters": {"pk": 3},           # -> the view's keyword arguments
     "data": {"title": "t"}}            # -> request.data (DRF) / request.body as JSON

becomes an HTTP-like request to the view, whose method follows the action
(``DEFAULT_MAPPED_ACTIONS``), with the handshake's user, session and headers.
The reply is the standard frame: ``data`` is the view's response data (DRF's
``Response.data``, or the decoded JSON / text of a Django response) and
``response_status`` its HTTP status. An error response (status >= 400) puts
its content in ``errors`` instead, like every other error frame; DRF's
``{"detail": msg}`` becomes ``[msg]``.

Divergences from DCRF, on purpose:

* ``view_as_consumer`` returns an ASGI application that builds a new consumer
  per connection; DCRF returned one shared instance, so a reply could reach
  another user's socket.
* The default methods follow HTTP: create POST, update PUT, patch PATCH,
  delete DELETE (DCRF mapped create to PUT and update to PATCH).
* ``data`` reaches the view as a JSON body (DCRF dropped it).
* Error responses fill ``errors`` (DCRF left them in ``data`` with ``errors: []``).

CSRF: the requests built here are marked exempt. CSRF protects cookie-carrying
form posts from other sites; a websocket message is not one, and the
cross-site handshake is refused by the Origin check (``AllowedHostsOriginValidator``)
before any message arrives. Middleware does not run for these requests: the
user and session come from the scope, as set by channels' middleware at the
handshake.
"""

from __future__ import annotations

import inspect
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from http import HTTPStatus
from types import MappingProxyType
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponseBase
from django.template.response import SimpleTemplateResponse
from django.views import View
from rest_framework.response import Response
from rest_framework.viewsets import ViewSetMixin

from streams.api_consumer import AsyncAPIConsumer, RegisteredAction
from streams.decorators import ActionSpec
from streams.errors import ActionError, format_errors
from streams.scope_utils import ACTION_METHODS, request_from_scope

__all__ = ["DEFAULT_MAPPED_ACTIONS", "DjangoViewAsConsumer", "view_as_consumer"]

#: Socket action -> HTTP method, when ``view_as_consumer`` gets no mapping:
#: the same conventions wrapped DRF permissions see.
DEFAULT_MAPPED_ACTIONS: Mapping[str, str] = ACTION_METHODS

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

#: Socket actions whose ViewSet handler has another name.
VIEWSET_HANDLERS: Mapping[str, str] = MappingProxyType(
    {"patch": "partial_update", "delete": "destroy"}
)
#: Standard ViewSet handlers that work on a collection, not an object.
_COLLECTION_HANDLERS = frozenset({"list", "create"})

# Sync, so the view runs in the database thread (one hop, with connection
# housekeeping), inside transaction.atomic when ATOMIC_REQUESTS is set.
_VIEW_ACTION_SPEC = ActionSpec(name=None, atomic=None, detached=False, is_async=False)


@dataclass(frozen=True)
class ViewRoute:
    """How one socket action reaches the view."""

    method: str
    view: Callable[..., HttpResponseBase]
    signature: inspect.Signature | None


class DjangoViewAsConsumer(AsyncAPIConsumer):
    """Consumer that forwards each mapped action to a Django/DRF view.

    Made by :func:`view_as_consumer`; ``view_routes`` maps action names to
    :class:`ViewRoute`. Every mapped action is registered as an action
    running :meth:`call_view`, so dispatch still goes only through the registry.
    """

    view_routes: ClassVar[Mapping[str, ViewRoute]] = MappingProxyType({})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.view_routes:
            return
        registry = dict(cls.actions)
        signature = inspect.signature(cls.call_view)
        for name, route in cls.view_routes.items():
            # The route's method is what the view sees, so permissions see it too.
            spec = replace(_VIEW_ACTION_SPEC, method=route.method)
            registry[name] = RegisteredAction(name, "call_view", spec, signature)
        cls.actions = MappingProxyType(registry)
        cls.available_actions = MappingProxyType({n: e.attribute for n, e in registry.items()})

    def get_view_args(self, action: str, **kwargs: Any) -> tuple[list[Any], dict[str, Any]]:
        """Positional and keyword arguments for the view (DCRF's hook): ``parameters``."""
        parameters = kwargs.get("parameters")
        if parameters is None:
            return [], {}
        if not isinstance(parameters, dict):
            raise ActionError("parameters must be a JSON object.", 400)
        return [], dict(parameters)

    def build_request(
        self, action: str, method: str, query: Any = None, data: Any = None
    ) -> HttpRequest:
        """The ``HttpRequest`` the view receives; see the module doc for the mapping."""
        if query is not None:
            _check_query(query)
        request = request_from_scope(self.scope, method=method, query=query or {})
        if not hasattr(request, "user"):
            # Views expect request.user, as AuthenticationMiddleware guarantees
            # over HTTP; a scope without AuthMiddleware has no user.
            from django.contrib.auth.models import AnonymousUser

            request.user = AnonymousUser()
        body = b"" if data is None else json.dumps(data).encode()
        request.META["CONTENT_TYPE"] = "application/json"
        request.META["CONTENT_LENGTH"] = str(len(body))
        # Replies carry data, never rendered output: make DRF's content
        # negotiation pick JSON whatever the handshake's Accept said.
        request.META["HTTP_ACCEPT"] = "application/json"
        request.META.pop("HTTP_CONTENT_LENGTH", None)
        request.META.pop("HTTP_CONTENT_TYPE", None)
        # The body is read as from a WSGI/ASGI request: Django's request.body
        # and DRF's parsers both read this stream.
        request._stream = io.BytesIO(body)
        request._read_started = False  # type: ignore[attr-defined]
        # Not a form post; see the module doc.
        request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return request

    def call_view(
        self,
        action: str,
        request_id: Any,
        query: Any = None,
        parameters: Any = None,
        data: Any = None,
        **kwargs: Any,
    ) -> tuple[Any, int]:
        """Run the view for ``action`` (in the database thread) and return ``(data, status)``."""
        route = self.view_routes[action]
        args, view_kwargs = self.get_view_args(
            action=action, query=query, parameters=parameters, data=data, **kwargs
        )
        request = self.build_request(action, route.method, query=query, data=data)
        if route.signature is not None:
            try:
                route.signature.bind(request, *args, **view_kwargs)
            except TypeError as exc:
                raise ActionError(f"Invalid parameters for action {action!r}: {exc}.", 400) from exc
        response = route.view(request, *args, **view_kwargs)
        return response_data(response), response.status_code

    async def reply(
        self,
        action: str | None,
        data: Any = None,
        errors: list[Any] | None = None,
        status: int = 200,
        request_id: Any = None,
    ) -> None:
        # A view's error response is an error frame: its content goes to errors.
        if status >= 400 and not errors:
            errors = _errors_from_content(data, status)
            data = None
        await super().reply(
            action=action, data=data, errors=errors, status=status, request_id=request_id
        )


def _check_query(query: Any) -> None:
    if not isinstance(query, dict):
        raise ActionError("query must be a JSON object.", 400)
    for key, value in query.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, str | int | float | bool):
                raise ActionError(
                    f"query[{key!r}] must be a string, number or boolean, or a list of them.", 400
                )


def _errors_from_content(content: Any, status: int) -> list[Any]:
    if content is None or content == "":
        try:
            return [HTTPStatus(status).phrase]
        except ValueError:
            return [f"Error {status}"]
    if isinstance(content, dict) and set(content) == {"detail"}:
        content = content["detail"]
    return format_errors(content)


def response_data(response: HttpResponseBase) -> Any:
    """The data a reply carries for ``response``.

    DRF responses give ``response.data`` unrendered; other responses give their
    content, decoded from JSON when their content type says so, else as text
    (undecodable bytes replaced). An empty body gives ``None``.
    """
    if isinstance(response, Response):
        return response.data
    if isinstance(response, SimpleTemplateResponse):
        response.render()
    # (Attributes of the two response kinds, which the stubs' base class lacks.)
    streamed: Any = response
    content = b"".join(streamed.streaming_content) if response.streaming else streamed.content
    if not content:
        return None
    text = content.decode(response.charset or "utf-8", errors="replace")
    content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


# ------------------------------------------------------------------- building
def _normalise_mapping(mapped_actions: Mapping[str, str] | None) -> dict[str, str]:
    if mapped_actions is None:
        return dict(DEFAULT_MAPPED_ACTIONS)
    if not isinstance(mapped_actions, Mapping):
        raise ImproperlyConfigured(
            f"view_as_consumer(mapped_actions=...) takes a mapping of action name to HTTP "
            f"method, e.g. {{'list': 'GET'}}; got {type(mapped_actions).__name__}."
        )
    mapping: dict[str, str] = {}
    for name, method in mapped_actions.items():
        if not isinstance(name, str) or not name:
            raise ImproperlyConfigured(
                f"view_as_consumer: action names must be non-empty strings, got {name!r}."
            )
        if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
            raise ImproperlyConfigured(
                f"view_as_consumer: action {name!r} maps to {method!r}, which is not an HTTP "
                f"method; use one of {', '.join(sorted(HTTP_METHODS))}."
            )
        mapping[name] = method.upper()
    return mapping


def _signature(view: Callable[..., Any]) -> inspect.Signature | None:
    # The outermost signature: DRF's as_view() sets __wrapped__ to the view
    # *class*, whose signature says nothing about how the view is called.
    try:
        return inspect.signature(view, follow_wrapped=False)
    except (TypeError, ValueError):
        return None


def _viewset_routes(
    viewset: type[ViewSetMixin], mapping: dict[str, str], explicit: bool
) -> dict[str, ViewRoute]:
    routes: dict[str, ViewRoute] = {}
    for name, method in mapping.items():
        handler_name = VIEWSET_HANDLERS.get(name, name)
        handler = getattr(viewset, handler_name, None)
        if handler is None or name.startswith("_"):
            if explicit:
                raise ImproperlyConfigured(
                    f"view_as_consumer: {viewset.__qualname__} has no handler "
                    f"{handler_name!r} for the action {name!r}; add the method (or an "
                    "@action) or leave the action out of mapped_actions."
                )
            continue  # e.g. a ReadOnlyModelViewSet has no create.
        initkwargs: dict[str, Any] = {}
        mapper = getattr(handler, "mapping", None)
        if mapper is not None:
            # A DRF @action: its own method list decides, and a method may be
            # routed to another handler (@publish.mapping.delete).
            if method.lower() not in mapper:
                raise ImproperlyConfigured(
                    f"view_as_consumer: {viewset.__qualname__}.{handler_name} accepts "
                    f"{', '.join(m.upper() for m in mapper)}, not {method}; map the action "
                    "to one of those methods."
                )
            handler_name = mapper[method.lower()]
            initkwargs.update(getattr(handler, "kwargs", {}))
            initkwargs["detail"] = getattr(handler, "detail", None)
        else:
            initkwargs["detail"] = handler_name not in _COLLECTION_HANDLERS
        view = viewset.as_view({method.lower(): handler_name}, **initkwargs)
        routes[name] = ViewRoute(method, view, _signature(view))
    return routes


def view_as_consumer(
    view: Any, mapped_actions: Mapping[str, str] | None = None
) -> Callable[..., Any]:
    """An ASGI application exposing ``view`` over a JSON websocket.

    ``view`` may be a view function (Django's or DRF's ``@api_view``), the result
    of ``SomeView.as_view()`` (Django class-based view, DRF ``APIView``, or a
    ViewSet with its ``{method: handler}`` mapping), a class-based view class
    (``as_view()`` is called), or a DRF ViewSet class: each mapped action then
    runs the ViewSet handler of the same name (``patch`` runs
    ``partial_update`` and ``delete`` ``destroy``), and extra ``@action``
    handlers can be mapped by name, e.g. ``{"publish": "POST"}``.

    ``mapped_actions`` maps action names to HTTP methods (default
    :data:`DEFAULT_MAPPED_ACTIONS`). Each connection gets its own consumer.
    """
    mapping = _normalise_mapping(mapped_actions)
    routes: dict[str, ViewRoute]
    if isinstance(view, type) and issubclass(view, ViewSetMixin):
        routes = _viewset_routes(view, mapping, explicit=mapped_actions is not None)
        name = view.__name__
    else:
        if isinstance(view, type) and issubclass(view, View):
            name = view.__name__
            view = view.as_view()
        elif callable(view):
            name = getattr(view, "__name__", type(view).__name__)
        else:
            raise ImproperlyConfigured(
                f"view_as_consumer() takes a view function, the result of "
                f"SomeView.as_view(), a class-based view class or a DRF ViewSet class; "
                f"got {view!r}."
            )
        signature = _signature(view)
        routes = {action: ViewRoute(method, view, signature) for action, method in mapping.items()}
    if not routes:
        raise ImproperlyConfigured(
            f"view_as_consumer({name}): no action is mapped to the view; pass mapped_actions."
        )
    consumer_class: type[DjangoViewAsConsumer] = type(
        f"{name}Consumer",
        (DjangoViewAsConsumer,),
        {"view_routes": MappingProxyType(routes), "__module__": __name__},
    )
    return consumer_class.as_asgi()
