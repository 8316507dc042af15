"""Views: the AsyncAPI document as JSON, and the browsable gateway page.

Both take the gateway as a class attribute or an ``as_view()`` argument: a
``Gateway`` subclass, a ``RouteTable``, a ``{name: consumer}`` mapping, or the
dotted path of one (imported on first use, so ``urls.py`` need not import
consumers). :func:`apidocs.urls.gateway_urls` wires both at once.

The document is built per request: the server's ``host`` and ``ws``/``wss``
come from the request, and it costs milliseconds on a page people open by
hand. The page itself is static HTML + ES modules; it reads the document and
talks to the gateway over the visitor's own websocket, with the visitor's own
session, so it can do exactly what the visitor may do and nothing more.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch
from django.utils.module_loading import import_string
from django.views.generic import TemplateView, View

from apidocs.document import build_document

__all__ = ["AsyncAPIView", "BrowseView", "GatewayDocsMixin"]


class GatewayDocsMixin:
    """Which gateway, mounted where: shared by the document and the page."""

    #: ``Gateway`` subclass, ``RouteTable``, mapping, or a dotted path to one.
    gateway: Any = None
    #: Path of the websocket the gateway is mounted on.
    ws_path: str = "/ws/"
    title: str | None = None
    version: str = "1.0.0"

    def get_gateway(self) -> Any:
        gateway = self.gateway
        if gateway is None:
            raise ImproperlyConfigured(
                f"{type(self).__qualname__} needs a gateway: pass gateway=MyGateway (or its "
                "dotted path) to as_view(), or use apidocs.urls.gateway_urls(MyGateway)."
            )
        if isinstance(gateway, str):
            try:
                gateway = import_string(gateway)
            except ImportError as exc:
                raise ImproperlyConfigured(
                    f"{type(self).__qualname__}: cannot import the gateway {self.gateway!r} "
                    f"({exc}); give the dotted path of a Gateway subclass."
                ) from exc
        return gateway

    def get_document(self, request: HttpRequest) -> dict[str, Any]:
        return build_document(
            self.get_gateway(),
            title=self.title,
            version=self.version,
            host=request.get_host(),
            pathname=self.ws_path,
            protocol="wss" if request.is_secure() else "ws",
        )


class AsyncAPIView(GatewayDocsMixin, View):
    """``GET``: the gateway's AsyncAPI 3.0 document, as JSON."""

    http_method_names = ["get", "head", "options"]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return JsonResponse(self.get_document(request))


def _url(name_or_path: str | None) -> str | None:
    if not name_or_path:
        return None
    try:
        return resolve_url(name_or_path)
    except NoReverseMatch:
        return None


class BrowseView(GatewayDocsMixin, TemplateView):
    """The browsable gateway: pick a stream and an action, fill the form, send."""

    template_name = "apidocs/browse.html"
    #: Where the page fetches the document (relative to the page by default).
    document_url: str = "asyncapi.json"
    #: URL name or path of the logout view (a POST form); ``None``: no button.
    logout_url: str | None = "logout"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        request = self.request
        user = getattr(request, "user", None)
        authenticated = bool(user is not None and user.is_authenticated)
        login_url = _url(getattr(settings, "LOGIN_URL", None))
        context["config"] = {
            "document_url": self.document_url,
            "ws_path": self.ws_path,
            "user": {
                "authenticated": authenticated,
                "username": user.get_username() if authenticated and user is not None else None,
            },
        }
        context["title"] = self.title or "Browsable gateway"
        context["authenticated"] = authenticated
        context["username"] = context["config"]["user"]["username"]
        context["login_url"] = login_url
        context["logout_url"] = _url(self.logout_url)
        context["next"] = request.get_full_path()
        return context
