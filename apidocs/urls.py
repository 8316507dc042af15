"""Mount the browsable gateway and its document with one URL pattern::

    from apidocs.urls import gateway_urls

    urlpatterns = [
        path("gateway/", gateway_urls("myproject.routing.MyGateway", ws_path="/ws/")),
    ]

gives ``gateway/`` (the page, URL name ``apidocs:browse``) and
``gateway/asyncapi.json`` (the document, ``apidocs:asyncapi``). Pass
``namespace=`` to mount several gateways.
"""

from __future__ import annotations

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
) -> tuple[list[Any], str, str]:
    """``include()``-style patterns: the page at ``""``, the document at ``asyncapi.json``."""
    options = {"gateway": gateway, "ws_path": ws_path, "title": title, "version": version}
    patterns = [
        path("", BrowseView.as_view(**options), name="browse"),
        path("asyncapi.json", AsyncAPIView.as_view(**options), name="asyncapi"),
    ]
    return patterns, app_name, namespace
