"""Consumers and gateways the apidocs tests describe.

``ShowcaseGateway`` mounts one of each kind of stream the document must
describe: model CRUD with filters (declared and DRF backends), streamed pages,
subscriptions, custom actions (plain, annotated, overridden by
``@action(asyncapi=...)``), a consumer-level ``asyncapi_schema``, a DRF view
and a plain ASGI application.
"""

from __future__ import annotations

from typing import Any

from rest_framework import filters as drf_filters
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apidocs.inspector import ConsumerSchema, Operation, StreamContext, consumer_schema_for
from apidocs.schemas import SerializerSchemas
from gateway import Gateway, RouteTable
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.filters import FieldFilterBackend
from streams.generics import GenericAsyncAPIConsumer
from streams.mixins import (
    CreateModelMixin,
    DeleteModelMixin,
    PatchModelMixin,
    RetrieveModelMixin,
    StreamedPaginatedListMixin,
    UpdateModelMixin,
)
from streams.observer.generics import ObserverModelInstanceMixin, ObserverModelListMixin
from streams.pagination import WebsocketLimitOffsetPagination
from streams.views import view_as_consumer
from tests.gateway.consumers import EchoConsumer
from tests.hypermedia.support import STREAMS as HYPERMEDIA_STREAMS
from tests.testapp.models_streams import StreamsAuthor, StreamsBook


class AuthorSerializer(serializers.ModelSerializer):
    class Meta:
        model = StreamsAuthor
        fields = ["id", "name"]


class ShowcaseBookSerializer(serializers.ModelSerializer):
    """A book, with its author nested."""

    writer = AuthorSerializer(source="author", read_only=True)
    secret = serializers.CharField(write_only=True, required=False)

    class Meta:
        model = StreamsBook
        fields = ["id", "title", "slug", "uuid", "pages", "published", "author", "writer", "secret"]
        read_only_fields = ["uuid"]

    def create(self, validated_data: dict[str, Any]) -> Any:
        validated_data.pop("secret", None)  # write-only, not a column
        return super().create(validated_data)

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        validated_data.pop("secret", None)
        return super().update(instance, validated_data)


class BookConsumer(
    StreamedPaginatedListMixin,
    RetrieveModelMixin,
    CreateModelMixin,
    UpdateModelMixin,
    PatchModelMixin,
    DeleteModelMixin,
    GenericAsyncAPIConsumer,
):
    """Books: CRUD and streamed pages."""

    queryset = StreamsBook.objects.all()
    serializer_class = ShowcaseBookSerializer
    lookup_field = "slug"
    pagination_class = WebsocketLimitOffsetPagination
    filter_backends = (FieldFilterBackend, drf_filters.SearchFilter, drf_filters.OrderingFilter)
    filterset_fields = {"pages": ["exact", "gte", "in", "range"], "author__name": ["icontains"]}
    search_fields = ["title"]
    ordering_fields = ["title", "pages"]

    @action()
    def count_pages(
        self, minimum: int, maximum: int | None = None, **kwargs: Any
    ) -> tuple[int, int]:
        """Total pages of the books in a range.

        Sums ``pages`` of every book with at least ``minimum`` pages.
        """
        books = self.get_queryset().filter(pages__gte=minimum)
        if maximum is not None:
            books = books.filter(pages__lte=maximum)
        return sum(book.pages for book in books), 200

    @action(
        asyncapi={
            "summary": "Echo a word back.",
            "parameters": {"word": {"type": "string", "minLength": 1}},
            "required": ["word"],
            "reply": {"type": "object", "properties": {"word": {"type": "string"}}},
        }
    )
    async def shout(self, word: Any = None, **kwargs: Any) -> tuple[dict[str, Any], int]:
        return {"word": str(word).upper()}, 200


class LiveAuthorConsumer(
    ObserverModelInstanceMixin, ObserverModelListMixin, GenericAsyncAPIConsumer
):
    queryset = StreamsAuthor.objects.all()
    serializer_class = AuthorSerializer
    filter_backends = (FieldFilterBackend,)
    filterset_fields = ["name"]


class ClockSchema(ConsumerSchema):
    def get_description(self, context: StreamContext) -> str:
        return "Tells the time (described by its own ConsumerSchema)."

    def get_operation(self, context: StreamContext, name: str, entry: Any) -> Operation:
        operation = super().get_operation(context, name, entry)
        operation.reply = {"type": "string", "format": "date-time"}
        return operation


class ClockConsumer(AsyncAPIConsumer):
    asyncapi_schema = ClockSchema()

    @action()
    async def now(self, **kwargs: Any) -> tuple[str, int]:
        return "2026-01-01T00:00:00Z", 200


class PingView(APIView):
    """Answers pong: a DRF view over the socket."""

    permission_classes = [AllowAny]

    def get(self, request: Any) -> Response:
        return Response({"pong": True})


SHOWCASE_STREAMS: dict[str, Any] = {
    "books": BookConsumer,
    "live-authors": LiveAuthorConsumer.as_asgi(),
    "clock": ClockConsumer,
    "ping": view_as_consumer(
        PingView.as_view(), mapped_actions={"retrieve": "GET", "create": "POST"}
    ),
    "echo": EchoConsumer.as_asgi(),
}


class ShowcaseGateway(Gateway):
    """Every kind of stream the document describes."""

    streams = SHOWCASE_STREAMS


class HypermediaGateway(Gateway):
    streams = HYPERMEDIA_STREAMS


# ------------------------------------------------ describing streams in tests
def operations(streams: dict[str, Any], name: str) -> dict[str, Operation]:
    routes = RouteTable.from_streams(streams)
    context = StreamContext(name, routes[name], routes, SerializerSchemas())
    schema = consumer_schema_for(routes[name].consumer_class)
    return {op.action: op for op in schema.get_operations(context)}


def showcase(name: str) -> dict[str, Operation]:
    return operations(SHOWCASE_STREAMS, name)
