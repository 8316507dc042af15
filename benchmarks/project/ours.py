"""Our stack: ``streams`` consumers mounted on a ``gateway.Gateway``.

Same models, same retrieve/patch serializer and same stream names as
``benchmarks.project.reference``; the list stream returns hypermedia links
(``hypermedia.serializers.HypermediaModelSerializer``).
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.project.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

if os.environ.get("BENCH_QUERY_COUNT"):
    from benchmarks.project.querycount import install

    install(os.environ["BENCH_QUERY_COUNT"])

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.serializers import ListSerializer, PrimaryKeyRelatedField  # noqa: E402

from benchmarks.project.layout import stream_layout  # noqa: E402
from benchmarks.project.models import Author, Book  # noqa: E402
from benchmarks.project.serializers import AuthorSerializer, BookSerializer  # noqa: E402
from gateway import Gateway  # noqa: E402
from gateway.compat import AsyncJsonWebsocketDemultiplexer  # noqa: E402
from hypermedia.serializers import HypermediaModelSerializer  # noqa: E402
from streams import mixins  # noqa: E402
from streams.generics import GenericAsyncAPIConsumer  # noqa: E402
from streams.observer.generics import ObserverModelInstanceMixin  # noqa: E402


class BookHypermediaSerializer(HypermediaModelSerializer):
    # Tags as pks, as in BookSerializer: no tags stream is mounted to link to.
    tags = PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Book
        fields = ["@id", "title", "author", "tags", "pages", "published", "summary"]
        # A list of full objects (with links inside), not a list of links: the
        # same 100 objects the reference returns, so the two lists compare.
        list_serializer_class = ListSerializer


class BookConsumer(mixins.PatchModelMixin, ObserverModelInstanceMixin, GenericAsyncAPIConsumer):
    queryset = Book.objects.prefetch_related("tags")
    serializer_class = BookSerializer
    # benchmarks.reconnect turns the observer history on; the comparisons keep it off.
    observer_history = os.environ.get("BENCH_HISTORY") == "1" or None


class AuthorConsumer(mixins.RetrieveModelMixin, GenericAsyncAPIConsumer):
    queryset = Author.objects.all()
    serializer_class = AuthorSerializer


class LibraryConsumer(mixins.ListModelMixin, GenericAsyncAPIConsumer):
    queryset = Book.objects.order_by("id").prefetch_related("tags")
    serializer_class = BookHypermediaSerializer


CONSUMERS = {"books": BookConsumer, "authors": AuthorConsumer, "library": LibraryConsumer}


class BenchGateway(Gateway):
    streams = {name: CONSUMERS[kind] for name, kind in stream_layout(settings.STREAM_COUNT)}
    # The load generator sends thousands of frames a second on one socket on
    # purpose; the per-connection frame rate (1000/s by default) would refuse them.
    max_frames_per_second = None


class BenchDemultiplexer(AsyncJsonWebsocketDemultiplexer):
    """The compat demultiplexer a migrated channelsmultiplexer app uses: every
    stream starts on connect (``BENCH_MUX=compat``)."""

    applications = {
        name: CONSUMERS[kind].as_asgi() for name, kind in stream_layout(settings.STREAM_COUNT)
    }


_mux = BenchDemultiplexer if os.environ.get("BENCH_MUX") == "compat" else BenchGateway

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AuthMiddlewareStack(URLRouter([path("ws/", _mux.as_asgi())])),
    }
)

_reference = sorted({"djangochannelsrestframework", "channelsmultiplexer"} & set(sys.modules))
if _reference:
    raise RuntimeError(f"our stack imported the reference packages: {_reference}")
