"""The library's statistics: a plain DRF view, over HTTP (/api/stats/) and on the socket."""

from __future__ import annotations

from typing import Any

from django.db.models import Avg, Count
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from library.models import Author, Book, Review, Tag


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
