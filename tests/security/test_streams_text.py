"""Text no database can store, wherever a client sends text: a 400 naming the field.

NUL characters and unpaired surrogates pass JSON and Python but not
PostgreSQL (a NUL in a query parameter is an error, hence a 500 before this
check) nor UTF-8 (a lone surrogate cannot be sent back). Filters, lookups,
``data``, ``request_id``, keys and the observer's subscription filters are
all refused before any query runs; on the production stack
(``CG_TEST_STACK=production``) these run against PostgreSQL.
"""

from __future__ import annotations

import pytest

from gateway import Gateway
from gateway.testing import GatewayCommunicator
from streams import mixins
from streams.filters import FieldFilterBackend
from streams.generics import GenericAsyncAPIConsumer
from streams.text import UNSTORABLE_TEXT_MESSAGE
from tests.streams.observer.support import APP as OBSERVER_APP
from tests.streams.observer.support import call
from tests.streams.support import BookSerializer, make_books
from tests.testapp.models_observer import ObsItem
from tests.testapp.models_streams import StreamsBook

pytestmark = pytest.mark.django_db(transaction=True)

UNSTORABLE = ["\x00", "a\x00b", "\ud800", "x\udfff", "\udc00\ud800"]


class Books(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.PatchModelMixin,
    mixins.DeleteModelMixin,
    GenericAsyncAPIConsumer,
):
    queryset = StreamsBook.objects.all()
    serializer_class = BookSerializer
    filter_backends = [FieldFilterBackend]
    filterset_fields = ["title", "slug"]


class BySlug(Books):
    lookup_field = "slug"


class Site(Gateway):
    streams = {"books": Books, "by_slug": BySlug}


@pytest.fixture
def books(transactional_db):
    return make_books(2)


@pytest.fixture
async def client():
    communicator = GatewayCommunicator(Site.as_asgi(), "/ws/")
    assert (await communicator.connect())[0]
    yield communicator
    await communicator.disconnect()


async def ask(client, stream, message):
    await client.send_to(stream, message)
    return await client.receive_from(stream, timeout=5)


def assert_refused(reply, field, request_id="t", action=None):
    assert reply["response_status"] == 400, reply
    assert reply["errors"] == [{field: [UNSTORABLE_TEXT_MESSAGE]}], reply
    assert reply["request_id"] == request_id
    if action is not None:
        assert reply["action"] == action


@pytest.mark.parametrize("text", UNSTORABLE, ids=ascii)
async def test_filters_lookups_and_data_are_400_naming_the_field(client, books, text):
    cases = [
        ("books", {"action": "list", "title": text}, "title"),
        ("books", {"action": "retrieve", "pk": text}, "pk"),
        ("by_slug", {"action": "retrieve", "slug": text}, "slug"),
        ("by_slug", {"action": "delete", "slug": f"book-0{text}"}, "slug"),
        ("books", {"action": "create", "data": {"title": text, "slug": "s"}}, "data.title"),
        ("books", {"action": "patch", "pk": books[0].pk, "data": {"title": text}}, "data.title"),
        ("books", {"action": "create", "data": {"title": "t", "slug": [text]}}, "data.slug.0"),
    ]
    for stream, message, field in cases:
        reply = await ask(client, stream, {**message, "request_id": "t"})
        assert_refused(reply, field, action=message["action"])
    # Nothing was written or deleted, and the socket still serves requests.
    reply = await ask(client, "books", {"action": "list", "request_id": "ok"})
    assert reply["response_status"] == 200 and len(reply["data"]) == 2
    assert [b["title"] for b in reply["data"]] == ["book0", "book1"]


@pytest.mark.parametrize("text", UNSTORABLE, ids=ascii)
async def test_request_id_and_keys_are_400_and_never_echoed(client, books, text):
    reply = await ask(client, "books", {"action": "list", "request_id": text})
    assert_refused(reply, "request_id", request_id=None, action="list")
    reply = await ask(client, "books", {"action": "list", "request_id": ["ok", {"k": text}]})
    assert_refused(reply, "request_id.1.k", request_id=None)
    reply = await ask(client, "books", {"action": "list", f"title{text}": "x", "request_id": "t"})
    escaped = "".join(
        f"\\u{ord(c):04x}" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in text
    )
    assert_refused(reply, f"title{escaped}")
    reply = await ask(client, "books", {"action": f"list{text}", "request_id": "t"})
    assert_refused(reply, "action")


@pytest.mark.parametrize("text", ["\x00", "\ud800"], ids=ascii)
async def test_observer_subscriptions_are_400_naming_the_field(text):
    client = GatewayCommunicator(OBSERVER_APP, "/ws/")
    assert (await client.connect())[0]
    try:
        reply = await call(
            client, "items", {"action": "subscribe_list", "color": text, "request_id": "t"}
        )
        assert_refused(reply, "color", action="subscribe_list")
        reply = await call(
            client, "items", {"action": "subscribe_instance", "pk": text, "request_id": "t"}
        )
        assert_refused(reply, "pk", action="subscribe_instance")
        reply = await call(client, "items", {"action": "list", "name": text, "request_id": "t"})
        assert_refused(reply, "name", action="list")
    finally:
        await client.disconnect()
    assert not await ObsItem.objects.aexists()
