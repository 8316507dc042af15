"""Filter backends over a websocket: FieldFilterBackend, custom backends, DRF backends."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings
from rest_framework.filters import OrderingFilter, SearchFilter

from streams import mixins
from streams.filters import BaseFilterBackend, DRFFilterBackendAdapter, FieldFilterBackend
from streams.generics import GenericAsyncAPIConsumer
from tests.conftest import request
from tests.streams.support import BookSerializer, make_books, make_user, titles
from tests.testapp.models_streams import StreamsAuthor, StreamsBook

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def books(transactional_db):
    made = make_books()  # pages 100..500, author Ann
    bob = StreamsAuthor.objects.create(name="Bob")
    made.append(StreamsBook.objects.create(title="other", slug="other", pages=50, author=bob))
    return made


class Base(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericAsyncAPIConsumer):
    queryset = StreamsBook.objects.all()
    serializer_class = BookSerializer
    filter_backends = [FieldFilterBackend]


class ExactFields(Base):
    filterset_fields = ["title", "author"]


class LookupFields(Base):
    filterset_fields = {
        "pages": ["exact", "gte", "lt", "in", "range"],
        "author__name": ["exact", "icontains"],
        "published": ["exact", "isnull"],
        "uuid": ["exact"],
    }


class LegacyFields(Base):
    filter_fields = ["slug"]


async def listing(comm, **kwargs) -> dict[str, Any]:
    return await request(comm, {"action": "list", "request_id": 1, **kwargs})


async def test_exact_fields(communicator, books):
    comm = await communicator(ExactFields.as_asgi())
    assert titles((await listing(comm, title="book2"))["data"]) == ["book2"]
    got = await listing(comm, author=books[-1].author_id)
    assert titles(got["data"]) == ["other"]
    got = await listing(comm, author=books[0].author_id, title="book4")
    assert titles(got["data"]) == ["book4"]


async def test_unknown_keys_are_ignored(communicator, books):
    comm = await communicator(ExactFields.as_asgi())
    # Not declared: neither a filter nor an error (the key may be an action
    # parameter). Declared fields' lookups are not reachable either.
    for key, value in [("pages", 100), ("title__startswith", "b"), ("owner__password", "x")]:
        got = await listing(comm, **{key: value})
        assert got["response_status"] == 200 and len(got["data"]) == 6


async def test_lookups(communicator, books):
    comm = await communicator(LookupFields.as_asgi())
    assert titles((await listing(comm, pages__gte=400))["data"]) == ["book3", "book4"]
    assert titles((await listing(comm, pages__lt=150))["data"]) == ["book0", "other"]
    assert titles((await listing(comm, pages__in=[200, 300]))["data"]) == ["book1", "book2"]
    assert titles((await listing(comm, pages__range=[250, 350]))["data"]) == ["book2"]
    assert titles((await listing(comm, author__name="Bob"))["data"]) == ["other"]
    assert len((await listing(comm, author__name__icontains="an"))["data"]) == 5
    assert len((await listing(comm, published__isnull=True))["data"]) == 6
    assert (await listing(comm, published=None))["response_status"] == 200
    assert titles((await listing(comm, uuid=str(books[0].uuid)))["data"]) == ["book0"]


async def test_legacy_filter_fields(communicator, books):
    comm = await communicator(LegacyFields.as_asgi())
    assert titles((await listing(comm, slug="book-1"))["data"]) == ["book1"]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("pages", "abc", "Field 'pages' expected a number but got 'abc'."),
        ("pages", {"$gt": 1}, "Expected a string, a number, a boolean or null."),
        ("pages", [1, 2], "Expected a string, a number, a boolean or null."),
        ("pages", 10**30, "Number out of range."),
        ("pages__in", 5, "Expected a list."),
        ("pages__in", [1, {}], "Expected a string, a number, a boolean or null."),
        ("pages__in", [1, 10**40], "Number out of range."),
        ("pages__range", [1], "Expected a list of two values."),
        ("uuid", "not-a-uuid", "“not-a-uuid” is not a valid UUID."),
        ("published", "yesterday", None),
    ],
)
async def test_invalid_values_are_400(communicator, books, key, value, message):
    comm = await communicator(LookupFields.as_asgi())
    got = await listing(comm, **{key: value})
    assert got["response_status"] == 400 and got["data"] is None
    [detail] = got["errors"]
    assert list(detail) == [key]
    if message is not None:
        assert detail[key] == [message]


async def test_several_invalid_values_are_all_reported(communicator, books):
    comm = await communicator(LookupFields.as_asgi())
    got = await listing(comm, pages="x", uuid="y")
    assert got["response_status"] == 400 and set(got["errors"][0]) == {"pages", "uuid"}


async def test_infinite_value_is_400(communicator, books):
    comm = await communicator(LookupFields.as_asgi())
    await comm.send_to(text_data='{"action": "list", "pages__gte": -1e309}')
    got = await comm.receive_json_from(timeout=2)
    assert got["response_status"] == 400
    assert got["errors"] == [{"pages__gte": ["Number out of range."]}]


async def test_filters_apply_to_get_object(communicator, books):
    comm = await communicator(ExactFields.as_asgi())
    got = await request(comm, {"action": "retrieve", "pk": books[0].pk, "title": "book0"})
    assert got["response_status"] == 200
    got = await request(comm, {"action": "retrieve", "pk": books[0].pk, "title": "book1"})
    assert got["response_status"] == 404


class UndeclaredModelField(Base):
    filterset_fields = ["no_such_field"]


class StringFields(Base):
    filterset_fields = "title"


@pytest.mark.parametrize("consumer", [UndeclaredModelField, StringFields])
async def test_server_misconfiguration_is_500_and_logged(communicator, books, caplog, consumer):
    comm = await communicator(consumer.as_asgi())
    with caplog.at_level(logging.ERROR, logger="streams.consumers"):
        got = await listing(comm, no_such_field=1, title="x")
    assert got["response_status"] == 500 and got["errors"] == ["Internal server error."]
    assert caplog.records, "the misconfiguration must reach the log"


class OwnedByUser(BaseFilterBackend):
    def filter_queryset(self, scope, consumer, queryset, /, **kwargs):
        return queryset.filter(owner=scope["user"])


class RecordingBackend(BaseFilterBackend):
    seen: list[dict[str, Any]] = []

    def filter_queryset(self, scope, consumer, queryset, /, **kwargs):
        RecordingBackend.seen.append({"consumer": consumer, **kwargs})
        return queryset


class OwnedConsumer(Base):
    filter_backends = [OwnedByUser, RecordingBackend]


async def test_custom_backend_gets_scope_consumer_and_kwargs(communicator, books):
    RecordingBackend.seen.clear()
    user = await sync_to_async(make_user)("u1")
    await StreamsBook.objects.acreate(title="mine", slug="mine", owner=user)
    comm = await communicator(OwnedConsumer.as_asgi(), user=user)
    # A message key named "queryset" would collide with filter_queryset's
    # parameter in DCRF-style overrides, so it is dropped, not a TypeError.
    got = await request(comm, {"action": "list", "request_id": 5, "x": 1, "queryset": 2})
    assert titles(got["data"]) == ["mine"]
    [seen] = RecordingBackend.seen
    assert isinstance(seen["consumer"], OwnedConsumer)
    assert (seen["action"], seen["request_id"], seen["x"]) == ("list", 5, 1)
    assert "queryset" not in seen


async def test_base_backend_is_a_no_op(communicator, books):
    class NoOp(Base):
        filter_backends = [BaseFilterBackend]

    comm = await communicator(NoOp.as_asgi())
    assert len((await listing(comm))["data"]) == 6


class DRFBackends(Base):
    filter_backends = [SearchFilter, OrderingFilter]
    search_fields = ["title", "author__name"]
    ordering_fields = ["pages", "title"]


async def test_drf_backends_are_wrapped(communicator, books):
    comm = await communicator(DRFBackends.as_asgi())
    assert titles((await listing(comm, search="bob"))["data"]) == ["other"]
    got = await listing(comm, ordering="-pages")
    assert titles(got["data"])[:2] == ["book4", "book3"]
    got = await listing(comm, search="book", ordering=["-title"])
    assert titles(got["data"]) == ["book4", "book3", "book2", "book1", "book0"]
    # Non-scalar keys never become query parameters; unknown orderings are
    # ignored, as in DRF.
    got = await listing(comm, search={"x": 1}, ordering="password")
    assert got["response_status"] == 200 and len(got["data"]) == 6


async def test_explicit_adapter_instance(communicator, books):
    class Adapted(DRFBackends):
        filter_backends = [DRFFilterBackendAdapter(SearchFilter())]

    comm = await communicator(Adapted.as_asgi())
    assert titles((await listing(comm, search="book3"))["data"]) == ["book3"]


async def test_default_backends_from_settings(communicator, books):
    class NoBackends(mixins.ListModelMixin, GenericAsyncAPIConsumer):
        queryset = StreamsBook.objects.all()
        serializer_class = BookSerializer
        filterset_fields = ["title"]

    comm = await communicator(NoBackends.as_asgi())
    assert len((await listing(comm, title="book1"))["data"]) == 6
    setting = {"DEFAULT_FILTER_BACKENDS": ["streams.filters.FieldFilterBackend"]}
    with override_settings(CHANNELS_GATEWAY=setting):
        assert titles((await listing(comm, title="book1"))["data"]) == ["book1"]
