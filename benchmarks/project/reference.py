"""The reference stack: DCRF 1.3 consumers behind channelsmultiplexer 0.0.3.

Only ever imported inside ``benchmarks/.ref-venv`` (the harness starts it
there). The list stream uses the plain ``BookSerializer`` (pks for relations):
hypermediachannels pins DCRF 0.0.x and cannot be installed beside DCRF 1.3.
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.project.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channelsmultiplexer import AsyncJsonWebsocketDemultiplexer  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import path  # noqa: E402
from djangochannelsrestframework import mixins  # noqa: E402
from djangochannelsrestframework.generics import GenericAsyncAPIConsumer  # noqa: E402
from djangochannelsrestframework.observer.generics import (  # noqa: E402
    ObserverModelInstanceMixin,
)

from benchmarks.project.layout import stream_layout  # noqa: E402
from benchmarks.project.models import Author, Book  # noqa: E402
from benchmarks.project.serializers import AuthorSerializer, BookSerializer  # noqa: E402


class BookConsumer(mixins.PatchModelMixin, ObserverModelInstanceMixin, GenericAsyncAPIConsumer):
    queryset = Book.objects.prefetch_related("tags")
    serializer_class = BookSerializer


class AuthorConsumer(mixins.RetrieveModelMixin, GenericAsyncAPIConsumer):
    queryset = Author.objects.all()
    serializer_class = AuthorSerializer


class LibraryConsumer(mixins.ListModelMixin, GenericAsyncAPIConsumer):
    queryset = Book.objects.order_by("id").prefetch_related("tags")
    serializer_class = BookSerializer


CONSUMERS = {"books": BookConsumer, "authors": AuthorConsumer, "library": LibraryConsumer}


class BenchDemultiplexer(AsyncJsonWebsocketDemultiplexer):
    applications = {
        name: CONSUMERS[kind].as_asgi() for name, kind in stream_layout(settings.STREAM_COUNT)
    }


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AuthMiddlewareStack(URLRouter([path("ws/", BenchDemultiplexer.as_asgi())])),
    }
)

_ours = sorted({"gateway", "streams", "hypermedia"} & set(sys.modules))
if _ours:
    raise RuntimeError(f"the reference stack imported our packages: {_ours}")
