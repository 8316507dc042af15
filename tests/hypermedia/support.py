"""Serializers, consumers and route tables shared by the ``hypermedia`` tests.

The consumers serve the models of ``tests/testapp/models_hypermedia.py``.
``context_for(table, ...)`` builds the serializer context an action would
pass, so serializers can be tested without a socket.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from gateway import Gateway, RouteTable, StreamScope
from hypermedia.serializers import HypermediaModelSerializer
from streams.filters import FieldFilterBackend
from streams.generics import GenericAsyncAPIConsumer
from streams.mixins import (
    CreateModelMixin,
    ListModelMixin,
    PatchModelMixin,
    RetrieveModelMixin,
    UpdateModelMixin,
)
from streams.permissions import BasePermission
from tests.testapp.models_hypermedia import (
    HyperAnimal,
    HyperAuthor,
    HyperBook,
    HyperDog,
    HyperKennel,
    HyperNote,
    HyperProfile,
    HyperPublisher,
    HyperPuppy,
    HyperTag,
)

# ----------------------------------------------------------------- serializers


class AuthorSerializer(HypermediaModelSerializer):
    class Meta:
        model = HyperAuthor
        fields = ["@id", "name", "books", "profile", "animals"]


class BookSerializer(HypermediaModelSerializer):
    class Meta:
        model = HyperBook
        fields = ["@id", "title", "author", "tags", "publisher", "notes"]
        extra_kwargs = {"notes": {"read_only": True}}


class TagSerializer(HypermediaModelSerializer):
    class Meta:
        model = HyperTag
        fields = ["@id", "label", "books"]
        extra_kwargs = {"books": {"read_only": True}}


class ProfileSerializer(HypermediaModelSerializer):
    class Meta:
        model = HyperProfile
        fields = ["@id", "bio", "author"]


class PublisherSerializer(HypermediaModelSerializer):
    class Meta:
        model = HyperPublisher
        fields = ["@id", "slug", "name"]


class AnimalSerializer(HypermediaModelSerializer):
    class Meta:
        model = HyperAnimal
        fields = ["@id", "name", "keeper"]


class DogSerializer(HypermediaModelSerializer):
    class Meta:
        model = HyperDog
        fields = ["@id", "name", "breed"]


class KennelSerializer(HypermediaModelSerializer):
    class Meta:
        model = HyperKennel
        fields = ["@id", "resident", "dog"]


# ------------------------------------------------------------------- consumers


class OwnBooksOnly(BasePermission):
    """Books with an owner are visible to that owner only (an object permission)."""

    message = "Only the owner may see this book."

    def has_object_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, obj: Any, **kwargs: Any
    ) -> bool:
        user = scope.get("user")
        return obj.owner_id is None or (user is not None and obj.owner_id == user.pk)


class DenyAll(BasePermission):
    message = "This stream is closed to you."

    def has_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, **kwargs: Any
    ) -> bool:
        return action == "connect"


class AuthorConsumer(ListModelMixin, RetrieveModelMixin, GenericAsyncAPIConsumer):
    queryset = HyperAuthor.objects.all()
    serializer_class = AuthorSerializer


class BookConsumer(
    ListModelMixin,
    RetrieveModelMixin,
    CreateModelMixin,
    UpdateModelMixin,
    PatchModelMixin,
    GenericAsyncAPIConsumer,
):
    serializer_class = BookSerializer
    permission_classes = [OwnBooksOnly]
    filter_backends = [FieldFilterBackend]
    filterset_fields = ["author", "tags", "publisher"]

    def get_queryset(self, **kwargs: Any) -> QuerySet[HyperBook]:
        # Unpublished books do not exist, as far as this stream is concerned.
        return HyperBook.objects.filter(published=True)


class SecretBookConsumer(RetrieveModelMixin, GenericAsyncAPIConsumer):
    """A stream of books nobody may read."""

    queryset = HyperBook.objects.all()
    serializer_class = BookSerializer
    permission_classes = [DenyAll]


class TagConsumer(ListModelMixin, RetrieveModelMixin, GenericAsyncAPIConsumer):
    queryset = HyperTag.objects.all()
    serializer_class = TagSerializer
    filter_backends = [FieldFilterBackend]
    filterset_fields = ["books"]


class ProfileConsumer(RetrieveModelMixin, GenericAsyncAPIConsumer):
    queryset = HyperProfile.objects.all()
    serializer_class = ProfileSerializer


class PublisherConsumer(RetrieveModelMixin, GenericAsyncAPIConsumer):
    """Looks publishers up by slug; offers retrieve only."""

    queryset = HyperPublisher.objects.all()
    serializer_class = PublisherSerializer
    lookup_field = "slug"


class AnimalConsumer(ListModelMixin, RetrieveModelMixin, GenericAsyncAPIConsumer):
    queryset = HyperAnimal.objects.all()
    serializer_class = AnimalSerializer


class DogConsumer(ListModelMixin, RetrieveModelMixin, GenericAsyncAPIConsumer):
    """No ``queryset``: the model comes from the serializer's ``Meta.model``."""

    serializer_class = DogSerializer

    def get_queryset(self, **kwargs: Any) -> QuerySet[HyperDog]:
        return HyperDog.objects.all()


class PuppyConsumer(RetrieveModelMixin, GenericAsyncAPIConsumer):
    queryset = HyperPuppy.objects.all()
    serializer_class = DogSerializer


class KennelConsumer(RetrieveModelMixin, CreateModelMixin, GenericAsyncAPIConsumer):
    queryset = HyperKennel.objects.all()
    serializer_class = KennelSerializer


#: The full table: the gateway most tests use.
STREAMS: dict[str, Any] = {
    "authors": AuthorConsumer,
    "books": BookConsumer,
    "secret_books": SecretBookConsumer,
    "tags": TagConsumer.as_asgi(),
    "profiles": ProfileConsumer,
    "publishers": PublisherConsumer.as_asgi(),
    "animals": AnimalConsumer,
    "dogs": DogConsumer,
    "kennels": KennelConsumer,
}


class LibraryGateway(Gateway):
    streams = STREAMS


def table(streams: dict[str, Any] | None = None) -> RouteTable:
    return RouteTable.from_streams(STREAMS if streams is None else streams)


def context_for(
    routes: RouteTable, stream: str = "books", user: Any = None, **scope: Any
) -> dict[str, Any]:
    """The serializer context a consumer on ``stream`` of ``routes`` would give."""
    full_scope: dict[str, Any] = {"type": "websocket", "gateway": StreamScope(routes, stream)}
    if user is not None:
        full_scope["user"] = user
    full_scope.update(scope)
    return {"scope": full_scope}


def link(stream: str, action: str = "retrieve", **lookups: Any) -> dict[str, Any]:
    return {"stream": stream, "payload": {"action": action, **lookups}}


class Library:
    """A small committed data set: two authors, books, tags, a publisher, animals."""

    def __init__(self) -> None:
        self.ann = HyperAuthor.objects.create(name="Ann")
        self.bob = HyperAuthor.objects.create(name="Bob")
        self.profile = HyperProfile.objects.create(author=self.ann, bio="writes")
        self.pen = HyperPublisher.objects.create(slug="pen", name="Penguin")
        self.sf = HyperTag.objects.create(label="sf")
        self.classic = HyperTag.objects.create(label="classic")
        self.dune = HyperBook.objects.create(title="Dune", author=self.ann, publisher=self.pen)
        self.emma = HyperBook.objects.create(title="Emma", author=self.ann)
        self.ulysses = HyperBook.objects.create(title="Ulysses", author=self.bob)
        self.draft = HyperBook.objects.create(title="Draft", author=self.bob, published=False)
        self.dune.tags.add(self.sf, self.classic)
        self.emma.tags.add(self.classic)
        self.rex = HyperDog.objects.create(name="Rex", breed="lab", keeper=self.ann)
        self.tom = HyperAnimal.objects.create(name="Tom", keeper=self.ann)
        self.pip = HyperPuppy.objects.create(name="Pip", keeper=self.bob)


class NoteSerializer(HypermediaModelSerializer):
    class Meta:
        model = HyperNote
        fields = ["@id", "text", "book"]


class NoteConsumer(CreateModelMixin, RetrieveModelMixin, GenericAsyncAPIConsumer):
    queryset = HyperNote.objects.all()
    serializer_class = NoteSerializer


class NotesGateway(Gateway):
    """The library plus a notes stream, whose ``book`` field takes links."""

    streams = {**STREAMS, "notes": NoteConsumer}
