"""HTTP side of the demo: the page (its statistics view is library/stats.py)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from library.demoplexer import Demoplexer

WS_PATH = "/ws/"


def stream_actions(consumer_class: type | None) -> list[str]:
    """The action names a stream's consumer offers, for the page's buttons."""
    actions = getattr(consumer_class, "actions", None)
    if actions:
        return sorted(actions)
    # A Django view mounted with view_as_consumer answers retrieve with a GET.
    return ["retrieve"]


def page_config(request: HttpRequest) -> dict[str, Any]:
    """What the page's script needs: the socket path, the streams, the user."""
    routes = Demoplexer.build_routes()
    user = request.user
    return {
        "ws_path": WS_PATH,
        "streams": {
            name: {"actions": stream_actions(route.consumer_class)}
            for name, route in routes.items()
        },
        "user": {
            "authenticated": bool(user.is_authenticated),
            "username": user.get_username() if user.is_authenticated else None,
            "id": user.pk if user.is_authenticated else None,
        },
    }


def index(request: HttpRequest) -> HttpResponse:
    return render(
        request, "library/index.html", {"config": page_config(request), "ws_path": WS_PATH}
    )
