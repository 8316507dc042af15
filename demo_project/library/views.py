"""HTTP side of the demo: the page, and the statistics view also served over the socket."""

from __future__ import annotations

from typing import Any

from django.db.models import Avg, Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from library.models import Author, Book, Review, Tag

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
    # Imported here: the demoplexer imports this module (for LibraryStatsView).
    from library.demoplexer import Demoplexer

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


class LibraryStatsView(APIView):
    """Counts and the best-rated book: a plain DRF view, also mounted on the socket
    with ``view_as_consumer`` (stream ``stats``) to show that existing HTTP views
    can be reused over the gateway unchanged."""

    permission_classes = [AllowAny]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        best = (
            Book.objects.annotate(average=Avg("reviews__rating"), review_count=Count("reviews"))
            .filter(review_count__gt=0)
            .order_by("-average", "title")
            .first()
        )
        return Response(
            {
                "authors": Author.objects.count(),
                "books": Book.objects.count(),
                "tags": Tag.objects.count(),
                "reviews": Review.objects.count(),
                "best_rated": (
                    {"title": best.title, "average_rating": round(best.average, 2)}
                    if best
                    else None
                ),
                "you": request.user.get_username() if request.user.is_authenticated else None,
            }
        )
