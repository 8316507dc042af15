"""WebsocketLimitOffsetPagination through PaginatedModelListMixin over a websocket."""

from __future__ import annotations

import pytest
from django.test import override_settings

from streams import mixins
from streams.generics import GenericAsyncAPIConsumer
from streams.pagination import WebsocketLimitOffsetPagination
from tests.conftest import request
from tests.streams.support import BookSerializer, make_books, titles
from tests.testapp.models_streams import StreamsBook

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def books(transactional_db):
    return make_books(7)


class SettingsPagedConsumer(mixins.PaginatedModelListMixin, GenericAsyncAPIConsumer):
    """Paginated by DEFAULT_PAGINATION_CLASS, which is None unless set (as in DCRF)."""

    queryset = StreamsBook.objects.all()
    serializer_class = BookSerializer


class PagedConsumer(SettingsPagedConsumer):
    pagination_class = WebsocketLimitOffsetPagination


class CappedPagination(WebsocketLimitOffsetPagination):
    max_limit = 3


class CappedConsumer(PagedConsumer):
    pagination_class = CappedPagination


class FixedDefault(WebsocketLimitOffsetPagination):
    default_limit = 2


class FixedDefaultConsumer(PagedConsumer):
    pagination_class = FixedDefault


@pytest.fixture
async def paged(communicator):
    return await communicator(PagedConsumer.as_asgi())


async def page(comm, **kwargs):
    got = await request(comm, {"action": "list", "request_id": 1, **kwargs})
    assert got["response_status"] == 200, got
    return got["data"]


async def test_limit_and_offset(paged, books):
    data = await page(paged, limit=3, offset=2)
    assert (data["count"], data["limit"], data["offset"]) == (7, 3, 2)
    assert titles(data["results"]) == ["book2", "book3", "book4"]


async def test_last_partial_page(paged, books):
    data = await page(paged, limit=3, offset=6)
    assert titles(data["results"]) == ["book6"]


@pytest.mark.parametrize("offset", [7, 100, 10**30])
async def test_offset_past_the_end_is_empty(paged, books, offset):
    data = await page(paged, limit=2, offset=offset)
    assert (data["count"], data["results"], data["offset"]) == (7, [], offset)


@pytest.mark.parametrize("limit", [100, 10**30, 1e30])
async def test_huge_limit_returns_the_rest_clamped_to_max_page_size(paged, books, limit):
    data = await page(paged, limit=limit, offset=5)
    assert titles(data["results"]) == ["book5", "book6"]
    assert data["limit"] == min(limit, 1000)  # MAX_PAGE_SIZE, 1000 by default


async def test_max_page_size_bounds_every_page(paged, books):
    with override_settings(CHANNELS_GATEWAY={"MAX_PAGE_SIZE": 3}):
        for kwargs in ({}, {"limit": 10**30}, {"limit": 3}, {"limit": "999"}):
            data = await page(paged, **kwargs)
            assert (data["count"], data["limit"], len(data["results"])) == (7, 3, 3), kwargs
        assert (await page(paged, limit=2))["limit"] == 2  # smaller limits stand
        data = await page(paged, offset=6)
        assert titles(data["results"]) == ["book6"]
    with override_settings(CHANNELS_GATEWAY={"MAX_PAGE_SIZE": 3, "PAGE_SIZE": 5}):
        assert (await page(paged))["limit"] == 3  # the cap wins over PAGE_SIZE


async def test_numeric_strings_are_accepted(paged, books):
    data = await page(paged, limit="2", offset="1")
    assert (data["limit"], data["offset"]) == (2, 1)
    assert titles(data["results"]) == ["book1", "book2"]


async def test_no_page_size_and_no_limit_gives_pages_of_max_page_size(paged, books):
    # DCRF crashed here; we return a page of MAX_PAGE_SIZE (1000) objects.
    data = await page(paged)
    assert (data["count"], data["limit"], data["offset"]) == (7, 1000, 0)
    assert len(data["results"]) == 7
    data = await page(paged, offset=5)
    assert titles(data["results"]) == ["book5", "book6"]
    # Unbounded only when asked for: MAX_PAGE_SIZE None, one page with limit null.
    with override_settings(CHANNELS_GATEWAY={"MAX_PAGE_SIZE": None}):
        data = await page(paged, limit=10**30)
        assert (data["limit"], len(data["results"])) == (10**30, 7)
        data = await page(paged)
        assert (data["count"], data["limit"], len(data["results"])) == (7, None, 7)


async def test_page_size_from_settings(paged, books):
    with override_settings(CHANNELS_GATEWAY={"PAGE_SIZE": 4}):
        data = await page(paged)
        assert (data["limit"], len(data["results"])) == (4, 4)
        assert (await page(paged, limit=1))["limit"] == 1
    with override_settings(DJANGO_CHANNELS_REST_API={"PAGE_SIZE": 5}):
        assert (await page(paged))["limit"] == 5
    assert (await page(paged))["limit"] == 1000


async def test_pagination_class_from_settings(communicator, books):
    paged = await communicator(SettingsPagedConsumer.as_asgi())
    with override_settings(CHANNELS_GATEWAY={"DEFAULT_PAGINATION_CLASS": FixedDefault}):
        assert (await page(paged))["limit"] == 2
    with override_settings(CHANNELS_GATEWAY={"DEFAULT_PAGINATION_CLASS": None}):
        data = await page(paged)
        assert isinstance(data, list) and len(data) == 7


async def test_no_pagination_class_by_default_gives_the_plain_list(communicator, books):
    # DCRF's default pagination class is None: PaginatedModelListMixin then
    # replies with the list itself, and limit/offset mean nothing.
    paged = await communicator(SettingsPagedConsumer.as_asgi())
    data = await page(paged, limit=2)
    assert titles(data) == [f"book{i}" for i in range(7)]


async def test_max_limit_caps(communicator, books):
    comm = await communicator(CappedConsumer.as_asgi())
    data = await page(comm, limit=50)
    assert (data["limit"], len(data["results"])) == (3, 3)


async def test_class_default_limit(communicator, books):
    comm = await communicator(FixedDefaultConsumer.as_asgi())
    assert (await page(comm))["limit"] == 2


async def test_empty_queryset(paged, transactional_db):
    assert await page(paged, limit=5) == {"count": 0, "results": [], "limit": 5, "offset": 0}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("limit", 0, "Must be a positive integer."),
        ("limit", -1, "Must be a positive integer."),
        ("limit", "abc", "Must be a positive integer."),
        ("limit", "", "Must be a positive integer."),
        ("limit", 2.5, "Must be a positive integer."),
        ("limit", True, "Must be a positive integer."),
        ("limit", {}, "Must be a positive integer."),
        ("limit", [5], "Must be a positive integer."),
        ("limit", "9" * 40, "Must be a positive integer."),
        ("offset", -1, "Must be a non-negative integer."),
        ("offset", "x", "Must be a non-negative integer."),
        ("offset", {"a": 1}, "Must be a non-negative integer."),
        ("offset", False, "Must be a non-negative integer."),
    ],
)
async def test_invalid_limit_or_offset_is_400(paged, books, key, value, message):
    got = await request(paged, {"action": "list", key: value, "request_id": 2})
    assert got == {
        "errors": [{key: [message]}],
        "data": None,
        "action": "list",
        "response_status": 400,
        "request_id": 2,
    }


async def test_infinite_limit_is_400(paged, books):
    # JSON has no infinity, but Python's decoder turns 1e309 into one.
    await paged.send_to(text_data='{"action": "list", "limit": 1e309}')
    got = await paged.receive_json_from(timeout=2)
    assert got["response_status"] == 400 and got["errors"] == [
        {"limit": ["Must be a positive integer."]}
    ]


async def test_offset_zero_and_integral_float_are_fine(paged, books):
    data = await page(paged, limit=2.0, offset=0)
    assert (data["limit"], data["offset"]) == (2, 0)


def test_paginator_on_a_list():
    paginator = WebsocketLimitOffsetPagination()
    assert paginator.paginate_queryset([1, 2, 3, 4], None, None, limit=2, offset=1) == [2, 3]
    assert paginator.get_paginated_response([2, 3]) == {
        "count": 4,
        "results": [2, 3],
        "limit": 2,
        "offset": 1,
    }
    assert not paginator.is_last_page()
    paginator.paginate_queryset([1, 2, 3, 4], None, None, limit=2, offset=2)
    assert paginator.is_last_page()
