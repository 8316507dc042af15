"""Mount the browsable gateway and its document with one URL pattern::

    from apidocs.urls import gateway_urls

    urlpatterns = [
        path("gateway/", gateway_urls("myproject.routing.MyGateway", ws_path="/ws/")),
    ]

gives ``gateway/`` (the page, URL name ``apidocs:browse``) and
``gateway/asyncapi.json`` (the document, ``apidocs:asyncapi``). Pass
``namespace=`` to mount several gateways, and ``decorator=`` (e.g.
``staff_member_required``) when the shape of the API is not for everyone:
both views are public otherwise, like DRF's schema view.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import path

from apidocs.views import AsyncAPIView, BrowseView

__all__ = ["gateway_urls"]

app_name = "apidocs"


def gateway_urls(
    gateway: Any,
    *,
    ws_path: str = "/ws/",
    title: str | None = None,
    version: str = "1.0.0",
    namespace: str = "apidocs",
    decorator: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None,
) -> tuple[list[Any], str, str]:
    """``include()``-style patterns: the page at ``""``, the document at ``asyncapi.json``."""
    options = {"gateway": gateway, "ws_path": ws_path, "title": title, "version": version}
    browse: Callable[..., Any] = BrowseView.as_view(**options)
    document: Callable[..., Any] = AsyncAPIView.as_view(**options)
    if decorator is not None:
        browse, document = decorator(browse), decorator(document)
    patterns = [
        path("", browse, name="browse"),
        path("asyncapi.json", document, name="asyncapi"),
    ]
    return patterns, app_name, namespace
