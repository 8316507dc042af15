"""GenericAsyncAPIConsumer hooks over a websocket: queryset, lookups, serializers, policies."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings
from rest_framework import serializers

from streams import mixins
from streams.decorators import action
from streams.filters import BaseFilterBackend
from streams.generics import GenericAsyncAPIConsumer
from streams.pagination import WebsocketLimitOffsetPagination
from streams.permissions import BasePermission
from tests.conftest import request
from tests.streams.support import (
    FORBIDDEN,
    NOT_FOUND,
    BookSerializer,
    make_books,
    make_user,
    titles,
)
from tests.testapp.models_streams import StreamsBook

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def books(transactional_db):
    return make_books()


class BookConsumer(mixins.RetrieveModelMixin, mixins.ListModelMixin, GenericAsyncAPIConsumer):
    queryset = StreamsBook.objects.all()
    serializer_class = BookSerializer


async def test_retrieve_by_default_lookup(communicator, books):
    comm = await communicator(BookConsumer.as_asgi())
    got = await request(comm, {"action": "retrieve", "pk": books[1].pk, "request_id": 3})
    assert got["response_status"] == 200
    assert got["data"]["title"] == "book1"
    assert got["request_id"] == 3


async def test_queryset_is_reevaluated_per_request(communicator, books):
    comm = await communicator(BookConsumer.as_asgi())
    assert len((await request(comm, {"action": "list"}))["data"]) == 5
    await StreamsBook.objects.acreate(title="new", slug="new")
    assert len((await request(comm, {"action": "list"}))["data"]) == 6


class ManagerConsumer(mixins.ListModelMixin, GenericAsyncAPIConsumer):
    queryset = StreamsBook.objects
    serializer_class = BookSerializer


async def test_manager_as_queryset(communicator, books):
    comm = await communicator(ManagerConsumer.as_asgi())
    assert len((await request(comm, {"action": "list"}))["data"]) == 5


class NoQueryset(mixins.ListModelMixin, GenericAsyncAPIConsumer):
    serializer_class = BookSerializer


class NoSerializer(mixins.ListModelMixin, GenericAsyncAPIConsumer):
    queryset = StreamsBook.objects.all()


@pytest.mark.parametrize(
    ("consumer", "hint"),
    [(NoQueryset, "`queryset` attribute"), (NoSerializer, "`serializer_class` attribute")],
)
async def test_misconfiguration_names_class_and_fix(communicator, caplog, consumer, hint):
    comm = await communicator(consumer.as_asgi())
    with caplog.at_level(logging.ERROR, logger="streams.consumers"):
        got = await request(comm, {"action": "list", "request_id": 1})
    assert got["response_status"] == 500
    assert got["errors"] == ["Internal server error."]
    logged = caplog.records[-1].exc_info[1]
    assert consumer.__qualname__ in str(logged) and hint in str(logged)


class SlugConsumer(mixins.RetrieveModelMixin, GenericAsyncAPIConsumer):
    queryset = StreamsBook.objects.all()
    serializer_class = BookSerializer
    lookup_field = "slug"


class SlugKwargConsumer(SlugConsumer):
    lookup_url_kwarg = "book"


async def test_lookup_field(communicator, books):
    comm = await communicator(SlugConsumer.as_asgi())
    got = await request(comm, {"action": "retrieve", "slug": "book-2"})
    assert got["data"]["title"] == "book2"
    got = await request(comm, {"action": "retrieve", "slug": "nope"})
    assert (got["response_status"], got["errors"]) == (404, NOT_FOUND)


async def test_lookup_url_kwarg(communicator, books):
    comm = await communicator(SlugKwargConsumer.as_asgi())
    got = await request(comm, {"action": "retrieve", "book": "book-3"})
    assert got["data"]["title"] == "book3"
    got = await request(comm, {"action": "retrieve", "slug": "book-3", "request_id": 9})
    assert got == {
        "errors": [{"book": ["This field is required."]}],
        "data": None,
        "action": "retrieve",
        "response_status": 400,
        "request_id": 9,
    }


async def test_missing_pk_is_400_naming_it(communicator, books):
    comm = await communicator(BookConsumer.as_asgi())
    got = await request(comm, {"action": "retrieve"})
    assert (got["response_status"], got["errors"]) == (400, [{"pk": ["This field is required."]}])


async def test_numeric_string_pk_is_accepted(communicator, books):
    # What DRF sees from a URL; clients migrating from HTTP send these.
    comm = await communicator(BookConsumer.as_asgi())
    got = await request(comm, {"action": "retrieve", "pk": str(books[0].pk)})
    assert got["data"]["title"] == "book0"


class OwnBooksConsumer(mixins.RetrieveModelMixin, mixins.ListModelMixin, GenericAsyncAPIConsumer):
    serializer_class = BookSerializer

    def get_queryset(self, **kwargs: Any):
        return StreamsBook.objects.filter(owner=self.scope["user"])


@pytest.fixture
def owned(transactional_db):
    alice, bob = make_user("alice"), make_user("bob")
    return alice, bob, make_books(2, owner=alice)


async def test_get_queryset_restricts_lookups(communicator, owned):
    alice, bob, alice_books = owned
    as_bob = await communicator(OwnBooksConsumer.as_asgi(), user=bob)
    got = await request(as_bob, {"action": "retrieve", "pk": alice_books[0].pk})
    assert (got["response_status"], got["errors"]) == (404, NOT_FOUND)
    assert (await request(as_bob, {"action": "list"}))["data"] == []
    as_alice = await communicator(OwnBooksConsumer.as_asgi(), user=alice)
    got = await request(as_alice, {"action": "retrieve", "pk": alice_books[0].pk})
    assert got["response_status"] == 200


class ShortBooksOnly(BasePermission):
    """Object-level: only books under 300 pages; records what it was asked."""

    seen: list[tuple[str, Any, dict[str, Any]]] = []

    def has_object_permission(self, scope, consumer, action, obj, **kwargs):
        ShortBooksOnly.seen.append((action, obj, kwargs))
        return obj.pages < 300


class AsyncShortBooksOnly(BasePermission):
    async def has_object_permission(self, scope, consumer, action, obj, **kwargs):
        return obj.pages < 300


class GuardedConsumer(BookConsumer):
    permission_classes = (ShortBooksOnly,)


class AsyncGuardedConsumer(BookConsumer):
    permission_classes = (AsyncShortBooksOnly,)


@pytest.mark.parametrize("consumer", [GuardedConsumer, AsyncGuardedConsumer])
async def test_object_permissions(communicator, books, consumer):
    comm = await communicator(consumer.as_asgi())
    assert (await request(comm, {"action": "retrieve", "pk": books[0].pk}))[
        "response_status"
    ] == 200
    got = await request(comm, {"action": "retrieve", "pk": books[4].pk, "request_id": "r"})
    assert (got["response_status"], got["errors"], got["request_id"]) == (403, FORBIDDEN, "r")


async def test_object_permission_gets_action_object_and_kwargs(communicator, books):
    ShortBooksOnly.seen.clear()
    comm = await communicator(GuardedConsumer.as_asgi())
    # A message key named like has_object_permission's "obj" is not passed on
    # (it would collide); the others are.
    await request(comm, {"action": "retrieve", "pk": books[0].pk, "extra": 1, "obj": "x"})
    [(action_name, obj, kwargs)] = ShortBooksOnly.seen
    assert action_name == "retrieve"
    assert obj == books[0]
    assert kwargs["extra"] == 1 and kwargs["pk"] == books[0].pk and "obj" not in kwargs


class ContextSerializer(serializers.ModelSerializer):
    context_info = serializers.SerializerMethodField()

    class Meta:
        model = StreamsBook
        fields = ["id", "title", "context_info"]

    def get_context_info(self, obj):
        request = self.context["request"]
        return {
            "method": request.method,
            "user": getattr(request.user, "username", None),
            "consumer": type(self.context["consumer"]).__name__,
            "scope_path": self.context["scope"]["path"],
            "auth_header": request.META.get("HTTP_AUTHORIZATION"),
        }


class ContextConsumer(mixins.RetrieveModelMixin, mixins.PatchModelMixin, GenericAsyncAPIConsumer):
    queryset = StreamsBook.objects.all()
    serializer_class = ContextSerializer


async def test_serializer_context(communicator, books):
    user = await make_user_async("carol")
    comm = await communicator(
        ContextConsumer.as_asgi(), path="/ws/", user=user, headers=[(b"authorization", b"Token t")]
    )
    got = await request(comm, {"action": "retrieve", "pk": books[0].pk})
    assert got["data"]["context_info"] == {
        "method": "GET",
        "user": "carol",
        "consumer": "ContextConsumer",
        "scope_path": "/ws/",
        "auth_header": "Token t",
    }
    # Same connection, another action: the request follows the action's method.
    got = await request(comm, {"action": "patch", "pk": books[0].pk, "data": {"title": "x"}})
    assert got["data"]["context_info"]["method"] == "PATCH"
    got = await request(comm, {"action": "retrieve", "pk": books[0].pk})
    assert got["data"]["context_info"]["method"] == "GET"


async def make_user_async(name: str):
    from asgiref.sync import sync_to_async

    return await sync_to_async(make_user)(name)


class SwitchUserConsumer(ContextConsumer):
    @action()
    async def become(self, name: str, **kwargs: Any):
        self.scope["user"] = await make_user_async(name)
        return None, 200


async def test_context_request_follows_scope_user_change(communicator, books):
    comm = await communicator(SwitchUserConsumer.as_asgi(), user=await make_user_async("dave"))
    got = await request(comm, {"action": "retrieve", "pk": books[0].pk})
    assert got["data"]["context_info"]["user"] == "dave"
    await request(comm, {"action": "become", "name": "erin"})
    got = await request(comm, {"action": "retrieve", "pk": books[0].pk})
    assert got["data"]["context_info"]["user"] == "erin"


class TitleOnly(serializers.ModelSerializer):
    class Meta:
        model = StreamsBook
        fields = ["title"]


class PerActionSerializer(BookConsumer):
    def get_serializer_class(self, **kwargs: Any):
        return TitleOnly if kwargs.get("action") == "list" else BookSerializer


async def test_get_serializer_class_sees_action(communicator, books):
    comm = await communicator(PerActionSerializer.as_asgi())
    assert (await request(comm, {"action": "list"}))["data"][0] == {"title": "book0"}
    got = await request(comm, {"action": "retrieve", "pk": books[0].pk})
    assert "slug" in got["data"]


class EvenPagesOnly(BaseFilterBackend):
    def filter_queryset(self, scope, consumer, queryset, /, **kwargs):
        return queryset.filter(pages__in=[200, 400])


async def test_filter_backends_default_from_settings(communicator, books):
    comm = await communicator(BookConsumer.as_asgi())
    assert len((await request(comm, {"action": "list"}))["data"]) == 5
    path = f"{__name__}.EvenPagesOnly"
    with override_settings(CHANNELS_GATEWAY={"DEFAULT_FILTER_BACKENDS": [path]}):
        got = await request(comm, {"action": "list"})
        assert titles(got["data"]) == ["book1", "book3"]
        # get_object filters too: a filtered-out object is not found.
        got = await request(comm, {"action": "retrieve", "pk": books[0].pk})
        assert got["response_status"] == 404
    assert len((await request(comm, {"action": "list"}))["data"]) == 5


class SmallPages(WebsocketLimitOffsetPagination):
    pass


def test_pagination_class_default_follows_settings():
    # None by default, as DCRF's: paginating is opted into.
    assert BookConsumer.pagination_class is None
    with override_settings(CHANNELS_GATEWAY={"DEFAULT_PAGINATION_CLASS": SmallPages}):
        assert BookConsumer.pagination_class is SmallPages

    class Unpaginated(BookConsumer):
        pagination_class = None

    assert Unpaginated.pagination_class is None


def test_filter_backends_attribute_overrides_setting():
    class Own(BookConsumer):
        filter_backends = [EvenPagesOnly]

    with override_settings(CHANNELS_GATEWAY={"DEFAULT_FILTER_BACKENDS": []}):
        assert Own.filter_backends == [EvenPagesOnly]
        assert BookConsumer.filter_backends == ()


async def test_action_not_on_consumer_is_405(communicator, books):
    comm = await communicator(BookConsumer.as_asgi())
    for name in ("delete", "create", "get_object", "get_queryset", "filter_queryset"):
        got = await request(comm, {"action": name, "pk": books[0].pk})
        assert (got["response_status"], got["errors"]) == (405, [f'Method "{name}" not allowed.'])
    assert await StreamsBook.objects.acount() == 5


class DCRFStyleGetObject(BookConsumer):
    """An override written the DCRF way: filter_queryset(queryset=..., **kwargs)."""

    filter_backends = [EvenPagesOnly]

    def get_object(self, **kwargs: Any):
        queryset = self.filter_queryset(queryset=self.get_queryset(**kwargs), **kwargs)
        return queryset.get(pk=kwargs["pk"])


async def test_filter_queryset_accepts_dcrf_keyword_call(communicator, books):
    comm = await communicator(DCRFStyleGetObject.as_asgi())
    assert (await request(comm, {"action": "retrieve", "pk": books[1].pk}))["data"][
        "title"
    ] == "book1"
    got = await request(comm, {"action": "retrieve", "pk": books[0].pk})
    assert got["response_status"] == 404


# ------------------------------------------------ represent(): serializer reuse
# retrieve keeps one serializer per class and context for the connection; its
# replies must be exactly what a fresh serializer's .data would be.


class InstanceAwareSerializer(BookSerializer):
    """Reads the instance in a method field: must see the object being sent."""

    same_object = serializers.SerializerMethodField()

    class Meta(BookSerializer.Meta):
        fields = [*BookSerializer.Meta.fields, "same_object"]

    def get_same_object(self, obj):
        return self.instance is obj


class PerInstanceFieldsSerializer(BookSerializer):
    """Shapes its fields per instance in __init__: must not be reused."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if getattr(self.instance, "pages", 0) > 200:
            self.fields.pop("slug")


class InstanceAwareConsumer(BookConsumer):
    serializer_class = InstanceAwareSerializer


class PerInstanceConsumer(BookConsumer):
    serializer_class = PerInstanceFieldsSerializer


class OwnGetSerializer(BookConsumer):
    def get_serializer(self, action_kwargs=None, *args, **kwargs):
        serializer = super().get_serializer(action_kwargs, *args, **kwargs)
        serializer.context["marker"] = True
        type(self).calls += 1
        return serializer

    calls = 0


async def test_retrieve_replies_match_a_fresh_serializer(communicator, books):
    comm = await communicator(InstanceAwareConsumer.as_asgi())
    for book in books:
        got = await request(comm, {"action": "retrieve", "pk": book.pk})
        expected = InstanceAwareSerializer(book).data
        expected["same_object"] = True
        assert got["data"] == expected


async def test_serializer_with_its_own_init_is_built_per_object(communicator, books):
    comm = await communicator(PerInstanceConsumer.as_asgi())
    short = await request(comm, {"action": "retrieve", "pk": books[0].pk})  # 100 pages
    long = await request(comm, {"action": "retrieve", "pk": books[2].pk})  # 300 pages
    assert "slug" in short["data"] and "slug" not in long["data"]


async def test_overridden_get_serializer_is_called_for_every_retrieve(communicator, books):
    OwnGetSerializer.calls = 0
    comm = await communicator(OwnGetSerializer.as_asgi())
    for book in books[:3]:
        assert (await request(comm, {"action": "retrieve", "pk": book.pk}))[
            "response_status"
        ] == 200
    assert OwnGetSerializer.calls == 3


# ------------------------------------------- represent_many(): list serializer reuse
# list keeps one ListSerializer per class and context for the connection; its
# replies must be exactly what a fresh get_serializer(many=True).data would be.


class RootAwareSerializer(BookSerializer):
    """Reads the list being serialized through its root and its own instance."""

    seen = serializers.SerializerMethodField()

    class Meta(BookSerializer.Meta):
        fields = [*BookSerializer.Meta.fields, "seen"]

    def get_seen(self, obj):
        return [obj in self.root.instance, obj in self.instance]


class OwnManyInit(BookSerializer):
    """A many_init of its own: the list serializer is built per list."""

    built = 0

    @classmethod
    def many_init(cls, *args, **kwargs):
        cls.built += 1
        return super().many_init(*args, **kwargs)


class RootAwareListConsumer(mixins.ListModelMixin, GenericAsyncAPIConsumer):
    queryset = StreamsBook.objects.order_by("pk")
    serializer_class = RootAwareSerializer


class OwnManyInitConsumer(RootAwareListConsumer):
    serializer_class = OwnManyInit


async def test_list_replies_match_a_fresh_list_serializer(communicator, books):
    comm = await communicator(RootAwareListConsumer.as_asgi())
    first = await request(comm, {"action": "list"})
    await StreamsBook.objects.acreate(title="new", slug="new")
    second = await request(comm, {"action": "list"})
    expected = await sync_to_async(
        lambda: RootAwareSerializer(list(StreamsBook.objects.order_by("pk")), many=True).data
    )()
    assert second["data"] == expected
    assert [row["seen"] for row in second["data"]] == [[True, True]] * 6
    assert len(first["data"]) == 5


class Shouting(BookSerializer):
    """Its own to_representation: no plan, so the kept list serializer uses DRF's .data."""

    def to_representation(self, instance):
        return {"title": instance.title.upper()}


class ShoutingListConsumer(RootAwareListConsumer):
    serializer_class = Shouting


async def test_a_kept_list_serializer_without_plan_never_replies_stale_data(communicator, books):
    comm = await communicator(ShoutingListConsumer.as_asgi())
    first = await request(comm, {"action": "list"})
    assert [row["title"] for row in first["data"]] == [book.title.upper() for book in books]
    await StreamsBook.objects.acreate(title="new", slug="new")
    second = await request(comm, {"action": "list"})
    assert [row["title"] for row in second["data"]][-1] == "NEW"
    assert len(second["data"]) == len(books) + 1


async def test_list_serializer_with_its_own_many_init_is_built_per_list(communicator, books):
    OwnManyInit.built = 0
    comm = await communicator(OwnManyInitConsumer.as_asgi())
    for _ in range(3):
        got = await request(comm, {"action": "list"})
        assert titles(got["data"]) == [book.title for book in books]
    assert OwnManyInit.built == 3


async def test_overridden_get_serializer_is_called_for_every_list(communicator, books):
    OwnGetSerializer.calls = 0
    comm = await communicator(OwnGetSerializer.as_asgi())
    for _ in range(3):
        assert (await request(comm, {"action": "list"}))["response_status"] == 200
    assert OwnGetSerializer.calls == 3


async def test_paginated_list_pages_match_fresh_serializers(communicator, books):
    class Paged(mixins.PaginatedModelListMixin, RootAwareListConsumer):
        pagination_class = WebsocketLimitOffsetPagination

    comm = await communicator(Paged.as_asgi())
    for offset in (0, 2, 4):
        got = await request(comm, {"action": "list", "limit": 2, "offset": offset})
        page = [book async for book in StreamsBook.objects.order_by("pk")[offset : offset + 2]]
        assert got["data"]["results"] == RootAwareSerializer(page, many=True).data
