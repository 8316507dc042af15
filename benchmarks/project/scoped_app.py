"""The server of ``python -m benchmarks.scoped``: observer delivery on PostgreSQL + Redis.

Streams (all over ``Book``):

- ``shelf``: ``retrieve``, ``patch``, ``subscribe_instance`` and
  ``subscribe_list`` (filter ``title``), with the default ``get_queryset()``:
  nothing restricts, so membership needs no query.
- ``scoped``: the same, with ``get_queryset()`` restricted by a value from the
  query string (``?tenant=N``: books with at least -N pages, so every book;
  N only makes the SQL differ). Equal tenants compile to equal SQL and share
  answers; distinct tenants do not.

Caps are lifted: the workloads hold 1,000 subscriptions on one socket.
"""

import os
from typing import Any
from urllib.parse import parse_qs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.project.scoped_settings")

import django

django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from benchmarks.project.models import Book  # noqa: E402
from benchmarks.project.serializers import BookSerializer  # noqa: E402
from gateway import Gateway  # noqa: E402
from streams import mixins  # noqa: E402
from streams.filters import FieldFilterBackend  # noqa: E402
from streams.generics import GenericAsyncAPIConsumer  # noqa: E402
from streams.observer.generics import (  # noqa: E402
    ObserverModelInstanceMixin,
    ObserverModelListMixin,
)


class ShelfConsumer(
    mixins.PatchModelMixin,
    ObserverModelInstanceMixin,
    ObserverModelListMixin,
    GenericAsyncAPIConsumer,
):
    queryset = Book.objects.all()
    serializer_class = BookSerializer
    filter_backends = [FieldFilterBackend]
    filterset_fields = ["title"]
    max_subscriptions = 100_000
    max_list_subscriptions = 100_000


class ScopedShelfConsumer(ShelfConsumer):
    def get_queryset(self, **kwargs: Any) -> Any:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        tenant = int(query.get("tenant", ["0"])[0])
        return Book.objects.filter(pages__gte=-tenant)


class ScopedGateway(Gateway):
    streams = {"shelf": ShelfConsumer, "scoped": ScopedShelfConsumer}
    max_in_flight = 1000
    max_frames_per_second = None  # the workloads send 1,000 subscribes at once


application = ProtocolTypeRouter({"websocket": URLRouter([path("ws/", ScopedGateway.as_asgi())])})
