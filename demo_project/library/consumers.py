"""The demo's stream consumers: one per model, all built from the same mixins.

Each consumer gives its stream CRUD, filtered lists (``filterset_fields``),
instance subscriptions (``subscribe_instance``) and list subscriptions
(``subscribe_list`` with the same filters as ``list``). The hypermedia
serializers turn every relation into a link to another stream of the
demoplexer, and the filters are what those links ask for: a book's
``reviews`` link is ``{"stream": "reviews", "payload": {"action": "list", "book": 7}}``,
so ``ReviewConsumer`` filters on ``book``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Avg, Count, QuerySet
from rest_framework.exceptions import ValidationError

from library.filters import LibraryFilterBackend
from library.models import Author, Book, Review, Tag
from library.permissions import ReadOnly, ReadOnlyUnlessStaff, ReviewPermission
from library.serializers import (
    AuthorSerializer,
    BookSerializer,
    ReviewSerializer,
    TagSerializer,
    UserSerializer,
)
from streams.decorators import action
from streams.generics import GenericAsyncAPIConsumer
from streams.mixins import (
    CreateModelMixin,
    DeleteModelMixin,
    ListModelMixin,
    PatchModelMixin,
    UpdateModelMixin,
)
from streams.observer.generics import ObserverModelInstanceMixin, ObserverModelListMixin


class LibraryConsumer(
    ListModelMixin,
    CreateModelMixin,
    UpdateModelMixin,
    PatchModelMixin,
    DeleteModelMixin,
    ObserverModelListMixin,
    ObserverModelInstanceMixin,
    GenericAsyncAPIConsumer,
):
    """CRUD + filtered lists + instance and list subscriptions for one model."""

    filter_backends = (LibraryFilterBackend,)
    permission_classes = (ReadOnlyUnlessStaff,)
    # Keep a short history per group: a page that reconnects (docs/CLIENT.md)
    # gets the changes it missed instead of reloading its view.
    observer_history = True


class AuthorConsumer(LibraryConsumer):
    queryset = Author.objects.all()
    serializer_class = AuthorSerializer
    filterset_fields = {"name": ["exact", "icontains"]}


class TagConsumer(LibraryConsumer):
    queryset = Tag.objects.all()
    serializer_class = TagSerializer
    filterset_fields = ["name", "books"]


class BookConsumer(LibraryConsumer):
    queryset = Book.objects.select_related("author")
    serializer_class = BookSerializer
    filterset_fields = {"author": ["exact"], "tags": ["exact"], "title": ["exact", "icontains"]}

    @action(
        method="GET",
        # What the AsyncAPI document (apidocs) cannot read from the signature.
        asyncapi={
            "parameters": {"limit": {"type": "integer", "minimum": 1, "maximum": 20, "default": 3}},
            "reply": {
                "type": "array",
                "items": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Book"},
                        {"type": "object", "properties": {"average_rating": {"type": "number"}}},
                    ]
                },
            },
        },
    )
    def top_rated(self, limit: Any = 3, **kwargs: Any) -> tuple[list[dict[str, Any]], int]:
        """The best-rated books with their average rating: a custom action next
        to the generated ones, using the same queryset, filters and serializer."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 20:
            raise ValidationError({"limit": ["Must be an integer from 1 to 20."]})
        queryset: QuerySet[Book] = (
            self.filter_queryset(self.get_queryset(**kwargs), **kwargs)
            .annotate(average_rating=Avg("reviews__rating"), review_count=Count("reviews"))
            .filter(review_count__gt=0)
            .order_by("-average_rating", "title")[:limit]
        )
        books = list(queryset)
        data = self.get_serializer(action_kwargs=kwargs, instance=books, many=True).data
        return [
            {**item, "average_rating": round(book.average_rating, 2)}  # type: ignore[attr-defined]
            for item, book in zip(data, books, strict=True)
        ], 200


class ReviewConsumer(LibraryConsumer):
    queryset = Review.objects.select_related("book", "user")
    serializer_class = ReviewSerializer
    permission_classes = (ReviewPermission,)
    filterset_fields = {"book": ["exact"], "user": ["exact"], "rating": ["exact", "gte", "lte"]}

    def perform_create(self, serializer: Any, **kwargs: Any) -> None:
        # The author of a review is the signed-in user, never a client field.
        serializer.save(user=self.scope["user"])


class UserConsumer(
    ListModelMixin, ObserverModelListMixin, ObserverModelInstanceMixin, GenericAsyncAPIConsumer
):
    """Users, read-only and only public fields: the end of a review's ``user`` link."""

    queryset = get_user_model().objects.filter(is_active=True)
    serializer_class = UserSerializer
    permission_classes = (ReadOnly,)
    filter_backends = (LibraryFilterBackend,)
    filterset_fields = ["username"]
