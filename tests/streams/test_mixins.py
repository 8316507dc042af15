"""Model mixins over a websocket: every action, its errors, atomic writes, streamed lists."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from django.test import override_settings
from rest_framework.exceptions import ValidationError

from streams import mixins, pagination
from streams.decorators import action
from streams.generics import GenericAsyncAPIConsumer
from streams.permissions import BasePermission
from tests.conftest import request
from tests.streams.support import (
    FORBIDDEN,
    NOT_FOUND,
    BookSerializer,
    make_books,
    make_user,
    reply,
    titles,
)
from tests.testapp.models_streams import StreamsAuditLog, StreamsBook

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def books(transactional_db):
    return make_books()


class NoLongBooks(BasePermission):
    def has_object_permission(self, scope, consumer, action, obj, **kwargs):
        return obj.pages < 500


class CrudConsumer(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.PatchModelMixin,
    mixins.DeleteModelMixin,
    GenericAsyncAPIConsumer,
):
    queryset = StreamsBook.objects.all()
    serializer_class = BookSerializer
    permission_classes = (NoLongBooks,)


@pytest.fixture
async def crud(communicator):
    return await communicator(CrudConsumer.as_asgi())


# ------------------------------------------------------------------- list
async def test_list(crud, books):
    got = await request(crud, {"action": "list", "request_id": 1})
    assert got["response_status"] == 200 and got["request_id"] == 1
    assert titles(got["data"]) == [f"book{i}" for i in range(5)]


async def test_list_empty(crud, transactional_db):
    assert (await request(crud, {"action": "list"}))["data"] == []


async def test_a_plain_list_longer_than_max_page_size_is_refused(crud, books):
    # Five books: a cap of 5 lets them through, a cap of 4 refuses the whole list
    # (a plain list has no count to say it was cut short).
    with override_settings(CHANNELS_GATEWAY={"MAX_PAGE_SIZE": 5}):
        got = await request(crud, {"action": "list", "request_id": 1})
        assert len(got["data"]) == 5
    with override_settings(CHANNELS_GATEWAY={"MAX_PAGE_SIZE": 4}):
        got = await request(crud, {"action": "list", "request_id": 2})
    assert got["response_status"] == 400
    assert got["errors"] == [mixins.LIST_TOO_LONG_MESSAGE.format(limit=4)]
    with override_settings(CHANNELS_GATEWAY={"MAX_PAGE_SIZE": None}):
        assert len((await request(crud, {"action": "list", "request_id": 3}))["data"]) == 5


# --------------------------------------------------------------- retrieve
async def test_retrieve(crud, books):
    got = await request(crud, {"action": "retrieve", "pk": books[0].pk, "request_id": "a"})
    expected = {
        "id": books[0].pk,
        "title": "book0",
        "slug": "book-0",
        "uuid": str(books[0].uuid),
        "pages": 100,
        "published": None,
        "author": books[0].author_id,
        "owner": None,
    }
    assert got == reply(expected, "retrieve", 200, "a")


async def test_retrieve_missing_is_404(crud, books):
    got = await request(crud, {"action": "retrieve", "pk": 999_999, "request_id": 2})
    assert got == reply(None, "retrieve", 404, 2, NOT_FOUND)


async def test_retrieve_forbidden_object_is_403(crud, books):
    got = await request(crud, {"action": "retrieve", "pk": books[4].pk})
    assert got == reply(None, "retrieve", 403, None, FORBIDDEN)


# ----------------------------------------------------------------- create
async def test_create(crud, transactional_db):
    data = {"title": "Dune", "slug": "dune", "pages": 412}
    got = await request(crud, {"action": "create", "data": data, "request_id": 5})
    assert got["response_status"] == 201 and got["request_id"] == 5
    assert got["data"]["title"] == "Dune" and got["data"]["id"]
    assert await StreamsBook.objects.filter(slug="dune").aexists()


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"slug": "x"}, [{"title": ["This field is required."]}]),
        ({"title": "t", "slug": "not a slug!"}, None),
        ({"title": "t", "slug": "s", "pages": -4}, None),
        ([], [{"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}]),
        ("text", [{"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}]),
        (None, [{"non_field_errors": ["No data provided"]}]),
    ],
)
async def test_create_invalid_is_400_with_drf_detail(crud, transactional_db, data, errors):
    got = await request(crud, {"action": "create", "data": data, "request_id": 1})
    assert got["response_status"] == 400 and got["data"] is None
    if errors is not None:
        assert got["errors"] == errors
    else:
        [detail] = got["errors"]
        assert isinstance(detail, dict) and detail
    assert await StreamsBook.objects.acount() == 0


async def test_create_without_data_key_is_400(crud, transactional_db):
    got = await request(crud, {"action": "create"})
    assert got["response_status"] == 400
    assert got["errors"] == [{"non_field_errors": ["No data provided"]}]


async def test_create_duplicate_is_400(crud, books):
    got = await request(crud, {"action": "create", "data": {"title": "t", "slug": "book-0"}})
    assert got["response_status"] == 400
    assert list(got["errors"][0]) == ["slug"]


class OwnerCreates(CrudConsumer):
    """perform_create with DCRF's signature, saving the scope's user."""

    def perform_create(self, serializer, **kwargs):
        assert kwargs["action"] == "create"
        serializer.save(owner=self.scope["user"])


async def test_perform_create_hook(communicator, transactional_db):
    from asgiref.sync import sync_to_async

    user = await sync_to_async(make_user)("olga")
    comm = await communicator(OwnerCreates.as_asgi(), user=user)
    # A message key named like the hook's positional parameter does not collide.
    msg = {"action": "create", "data": {"title": "t", "slug": "s"}, "serializer": 1}
    got = await request(comm, msg)
    assert got["response_status"] == 201 and got["data"]["owner"] == user.pk


class AuditThenFail(CrudConsumer):
    """Hooks that write, then fail: the write must be rolled back."""

    def perform_create(self, serializer, **kwargs):
        StreamsAuditLog.objects.create(message="create")
        serializer.save()
        raise ValidationError({"title": ["Rejected after saving."]})

    def perform_update(self, serializer, **kwargs):
        StreamsAuditLog.objects.create(message="update")
        serializer.save()
        raise ValidationError({"title": ["Rejected after saving."]})

    def perform_patch(self, serializer, **kwargs):
        self.perform_update(serializer, **kwargs)

    def perform_delete(self, instance, **kwargs):
        StreamsAuditLog.objects.create(message="delete")
        instance.delete()
        raise RuntimeError("boom after delete")


async def test_writes_are_atomic(communicator, books):
    comm = await communicator(AuditThenFail.as_asgi())
    got = await request(comm, {"action": "create", "data": {"title": "t", "slug": "new"}})
    assert got == reply(None, "create", 400, None, [{"title": ["Rejected after saving."]}])
    pk = books[0].pk
    for name in ("update", "patch"):
        data = {"title": "changed", "slug": "changed"}
        got = await request(comm, {"action": name, "pk": pk, "data": data})
        assert got["response_status"] == 400
    got = await request(comm, {"action": "delete", "pk": pk})
    assert got["response_status"] == 500
    assert await StreamsAuditLog.objects.acount() == 0
    assert await StreamsBook.objects.acount() == 5
    assert (await StreamsBook.objects.aget(pk=pk)).title == "book0"


def test_write_actions_are_atomic_read_actions_follow_settings():
    registry = CrudConsumer.actions
    for name in ("create", "update", "patch", "delete"):
        assert registry[name].spec.atomic is True
    for name in ("list", "retrieve"):
        assert registry[name].spec.atomic is None


# ----------------------------------------------------------------- update
async def test_update(crud, books):
    data = {"title": "New", "slug": "new", "pages": 10}
    got = await request(crud, {"action": "update", "pk": books[0].pk, "data": data})
    assert got["response_status"] == 200
    assert (got["data"]["title"], got["data"]["slug"]) == ("New", "new")
    assert (await StreamsBook.objects.aget(pk=books[0].pk)).title == "New"


async def test_update_is_full(crud, books):
    got = await request(crud, {"action": "update", "pk": books[0].pk, "data": {"title": "x"}})
    assert got["response_status"] == 400
    assert got["errors"] == [{"slug": ["This field is required."]}]


async def test_update_errors(crud, books):
    data = {"title": "t", "slug": "s"}
    got = await request(crud, {"action": "update", "pk": 999_999, "data": data})
    assert (got["response_status"], got["errors"]) == (404, NOT_FOUND)
    got = await request(crud, {"action": "update", "pk": books[4].pk, "data": data})
    assert (got["response_status"], got["errors"]) == (403, FORBIDDEN)
    got = await request(crud, {"action": "update", "data": data})
    assert (got["response_status"], got["errors"]) == (400, [{"pk": ["This field is required."]}])
    assert (await StreamsBook.objects.aget(pk=books[4].pk)).slug == "book-4"


# ------------------------------------------------------------------ patch
async def test_patch(crud, books):
    got = await request(crud, {"action": "patch", "pk": books[1].pk, "data": {"pages": 7}})
    assert got["response_status"] == 200
    assert (got["data"]["title"], got["data"]["pages"]) == ("book1", 7)


async def test_patch_errors(crud, books):
    got = await request(crud, {"action": "patch", "pk": books[1].pk, "data": {"pages": "many"}})
    assert (got["response_status"], got["errors"]) == (
        400,
        [{"pages": ["A valid integer is required."]}],
    )
    got = await request(crud, {"action": "patch", "pk": 999_999, "data": {}})
    assert (got["response_status"], got["errors"]) == (404, NOT_FOUND)
    got = await request(crud, {"action": "patch", "pk": books[4].pk, "data": {"pages": 1}})
    assert (got["response_status"], got["errors"]) == (403, FORBIDDEN)
    assert (await StreamsBook.objects.aget(pk=books[4].pk)).pages == 500


class PrefetchConsumer(CrudConsumer):
    queryset = StreamsBook.objects.prefetch_related("author__books")


async def test_update_clears_prefetch_cache(communicator, books):
    comm = await communicator(PrefetchConsumer.as_asgi())
    got = await request(comm, {"action": "patch", "pk": books[0].pk, "data": {"title": "p"}})
    assert got["response_status"] == 200 and got["data"]["title"] == "p"


# ----------------------------------------------------------------- delete
async def test_delete(crud, books):
    got = await request(crud, {"action": "delete", "pk": books[0].pk, "request_id": 4})
    assert got == reply(None, "delete", 204, 4)
    assert not await StreamsBook.objects.filter(pk=books[0].pk).aexists()


async def test_delete_errors(crud, books):
    got = await request(crud, {"action": "delete", "pk": 999_999})
    assert (got["response_status"], got["errors"]) == (404, NOT_FOUND)
    got = await request(crud, {"action": "delete", "pk": books[4].pk, "instance": 1})
    assert (got["response_status"], got["errors"]) == (403, FORBIDDEN)
    assert await StreamsBook.objects.acount() == 5


async def test_unknown_action_is_405(crud, books):
    got = await request(crud, {"action": "destroy", "pk": books[0].pk})
    assert got == reply(None, "destroy", 405, None, ['Method "destroy" not allowed.'])


# -------------------------------------------------------- paginated list
class PagedConsumer(mixins.PaginatedModelListMixin, GenericAsyncAPIConsumer):
    queryset = StreamsBook.objects.all()
    serializer_class = BookSerializer
    pagination_class = pagination.WebsocketLimitOffsetPagination


async def test_paginated_list(communicator, books):
    comm = await communicator(PagedConsumer.as_asgi())
    got = await request(comm, {"action": "list", "limit": 2, "offset": 1})
    data = got["data"]
    assert (data["count"], data["limit"], data["offset"]) == (5, 2, 1)
    assert titles(data["results"]) == ["book1", "book2"]
    assert list(data) == ["count", "results", "limit", "offset"]


async def test_paginated_list_without_pagination_class_is_plain(communicator, books):
    class Plain(PagedConsumer):
        pagination_class = None

    comm = await communicator(Plain.as_asgi())
    got = await request(comm, {"action": "list", "limit": 2})
    assert titles(got["data"]) == [f"book{i}" for i in range(5)]


# -------------------------------------------------------- streamed list
class StreamedConsumer(
    mixins.StreamedPaginatedListMixin, mixins.RetrieveModelMixin, GenericAsyncAPIConsumer
):
    queryset = StreamsBook.objects.all()
    serializer_class = BookSerializer

    @action()
    async def ping(self, **kwargs):
        return "pong", 200


class SlowStreamedConsumer(StreamedConsumer):
    def get_page(self, **kwargs):
        time.sleep(0.03)
        return super().get_page(**kwargs)


async def receive_all(comm, quiet=0.3):
    """Every frame until none arrives for ``quiet`` seconds.

    (``receive_json_from`` timing out would cancel the application, so wait
    with ``receive_nothing``, which does not.)
    """
    frames = []
    while not await comm.receive_nothing(timeout=quiet):
        frames.append(await comm.receive_json_from(timeout=2))
    return frames


async def test_streamed_list_pages(communicator, books):
    comm = await communicator(StreamedConsumer.as_asgi())
    await comm.send_json_to({"action": "list", "limit": 2, "request_id": 8})
    pages = [await comm.receive_json_from(timeout=2) for _ in range(3)]
    assert [p["data"]["offset"] for p in pages] == [0, 2, 4]
    assert [p["data"]["last"] for p in pages] == [False, False, True]
    assert [titles(p["data"]["results"]) for p in pages] == [
        ["book0", "book1"],
        ["book2", "book3"],
        ["book4"],
    ]
    for page in pages:
        assert (page["action"], page["request_id"], page["response_status"]) == ("list", 8, 200)
        assert page["data"]["count"] == 5 and page["data"]["limit"] == 2
    assert await comm.receive_nothing(timeout=0.1)


async def test_streamed_list_exact_multiple_and_offset(communicator, books):
    comm = await communicator(StreamedConsumer.as_asgi())
    await comm.send_json_to({"action": "list", "limit": 2, "offset": 1, "request_id": 1})
    pages = [await comm.receive_json_from(timeout=2) for _ in range(2)]
    assert [p["data"]["offset"] for p in pages] == [1, 3]
    assert pages[-1]["data"]["last"] is True
    assert await comm.receive_nothing(timeout=0.1)


@pytest.fixture(params=[0, 5])
def some_books(request, transactional_db):
    return make_books(request.param) if request.param else []


async def test_streamed_list_without_page_size_is_one_page(communicator, some_books):
    # One page of MAX_PAGE_SIZE (1000) objects: every book here.
    count = len(some_books)
    comm = await communicator(StreamedConsumer.as_asgi())
    await comm.send_json_to({"action": "list", "request_id": 1})
    page = await comm.receive_json_from(timeout=2)
    assert page["data"]["limit"] == 1000 and page["data"]["last"] is True
    assert len(page["data"]["results"]) == count
    assert await comm.receive_nothing(timeout=0.1)


async def test_streamed_list_uses_page_size_setting(communicator, books):
    comm = await communicator(StreamedConsumer.as_asgi())
    with override_settings(CHANNELS_GATEWAY={"PAGE_SIZE": 3}):
        await comm.send_json_to({"action": "list", "request_id": 1})
        pages = [await comm.receive_json_from(timeout=2) for _ in range(2)]
    assert [len(p["data"]["results"]) for p in pages] == [3, 2]


async def test_streamed_list_error_is_a_reply(communicator, books):
    comm = await communicator(StreamedConsumer.as_asgi())
    got = await request(comm, {"action": "list", "limit": "many", "request_id": 3})
    assert got == reply(None, "list", 400, 3, [{"limit": ["Must be a positive integer."]}])


async def test_streamed_list_does_not_block_other_requests(communicator, books):
    comm = await communicator(SlowStreamedConsumer.as_asgi())
    await comm.send_json_to({"action": "list", "limit": 1, "request_id": "L"})
    await comm.send_json_to({"action": "ping", "request_id": "P"})
    frames = await receive_all(comm, quiet=0.3)
    ids = [f["request_id"] for f in frames]
    assert ids.count("L") == 5 and ids.count("P") == 1
    assert ids.index("P") < 4, "ping waited for the whole streamed list"
    assert frames[-1]["data"]["last"] is True


@pytest.mark.parametrize("request_id", ["L", {"k": [1, 2]}, None])
async def test_list_cancel_stops_the_stream(communicator, books, request_id):
    comm = await communicator(SlowStreamedConsumer.as_asgi())
    await comm.send_json_to({"action": "list", "limit": 1, "request_id": request_id})
    first = await comm.receive_json_from(timeout=2)
    assert first["data"]["offset"] == 0
    await comm.send_json_to({"action": "list_cancel", "request_id": request_id})
    frames = await receive_all(comm, quiet=0.3)
    cancel = reply(None, "list_cancel", 200, request_id)
    assert cancel in frames
    after = frames[frames.index(cancel) + 1 :]
    assert after == []
    # At most the page already under way came before the cancel reply.
    assert len(frames) <= 2


async def test_list_cancel_without_stream_is_200(communicator, books):
    comm = await communicator(StreamedConsumer.as_asgi())
    got = await request(comm, {"action": "list_cancel", "request_id": "nothing"})
    assert got == reply(None, "list_cancel", 200, "nothing")


async def test_list_cancel_only_stops_its_own_stream(communicator, books):
    comm = await communicator(SlowStreamedConsumer.as_asgi())
    await comm.send_json_to({"action": "list", "limit": 1, "request_id": "A"})
    await comm.send_json_to({"action": "list", "limit": 1, "request_id": "B"})
    await comm.send_json_to({"action": "list_cancel", "request_id": "A"})
    frames = await receive_all(comm, quiet=0.3)
    b_pages = [f for f in frames if f["request_id"] == "B"]
    assert len(b_pages) == 5 and b_pages[-1]["data"]["last"] is True
    assert len([f for f in frames if f["request_id"] == "A" and f["action"] == "list"]) < 5


async def test_same_request_id_replaces_running_stream(communicator, books):
    comm = await communicator(SlowStreamedConsumer.as_asgi())
    await comm.send_json_to({"action": "list", "limit": 1, "request_id": 1})
    await comm.send_json_to({"action": "list", "limit": 4, "request_id": 1})
    frames = await receive_all(comm, quiet=0.3)
    assert frames[-1]["data"]["limit"] == 4 and frames[-1]["data"]["last"] is True
    assert len([f for f in frames if f["data"]["limit"] == 1]) < 5


class CountingStreamedConsumer(SlowStreamedConsumer):
    pages_built: list[int] = []

    def get_page(self, **kwargs):
        result = super().get_page(**kwargs)
        CountingStreamedConsumer.pages_built.append(result[0]["offset"])
        return result


async def test_disconnect_cancels_stream(books):
    from channels.testing import WebsocketCommunicator

    CountingStreamedConsumer.pages_built.clear()
    comm = WebsocketCommunicator(CountingStreamedConsumer.as_asgi(), "/")
    assert (await comm.connect())[0]
    await comm.send_json_to({"action": "list", "limit": 1, "request_id": 1})
    await comm.receive_json_from(timeout=2)
    await comm.disconnect()
    built = len(CountingStreamedConsumer.pages_built)
    await asyncio.sleep(0.15)
    # A page already running in the database thread may still finish; no new
    # one starts.
    assert len(CountingStreamedConsumer.pages_built) <= built + 1 < 5


def test_streamed_list_is_detached():
    spec = StreamedConsumer.actions["list"].spec
    assert spec.detached and spec.is_async


class RendezvousPagination(pagination.WebsocketLimitOffsetPagination):
    """Holds the first page of each list until two lists are building one."""

    barrier = threading.Barrier(2, timeout=2)

    def get_count(self, queryset):
        if self.offset == 0:
            self.barrier.wait()
        return super().get_count(queryset)


class RendezvousStreamedConsumer(StreamedConsumer):
    pagination_class = RendezvousPagination


async def test_concurrent_streamed_lists_keep_their_own_pages(communicator, books):
    # Two streamed lists of one socket build pages at the same time in two
    # action threads. They used to share the consumer's paginator, whose
    # limit/offset/count one list overwrote under the other.
    RendezvousPagination.barrier.reset()
    comm = await communicator(RendezvousStreamedConsumer.as_asgi())
    await comm.send_json_to({"action": "list", "limit": 1, "request_id": "one"})
    await comm.send_json_to({"action": "list", "limit": 3, "request_id": "three"})
    frames = await receive_all(comm, quiet=0.3)
    for request_id, limit, offsets in (("one", 1, [0, 1, 2, 3, 4]), ("three", 3, [0, 3])):
        pages = [f["data"] for f in frames if f["request_id"] == request_id]
        assert [p["offset"] for p in pages] == offsets
        assert {p["limit"] for p in pages} == {limit}
        assert [len(p["results"]) for p in pages] == [min(limit, 5 - o) for o in offsets]
        assert [p["last"] for p in pages] == [o == offsets[-1] for o in offsets]


class TwoStreamsAtMost(SlowStreamedConsumer):
    max_streamed_lists = 2


async def test_streamed_lists_per_stream_are_capped(communicator, books):
    comm = await communicator(TwoStreamsAtMost.as_asgi())
    for request_id in ("a", "b", "c"):
        await comm.send_json_to({"action": "list", "limit": 1, "request_id": request_id})
    frames = await receive_all(comm, quiet=0.3)
    refused = [f for f in frames if f["response_status"] == 429]
    assert [f["request_id"] for f in refused] == ["c"]
    assert {f["request_id"] for f in frames if f["response_status"] == 200} == {"a", "b"}
    # Once they are done, a new one may start.
    await comm.send_json_to({"action": "list", "limit": 5, "request_id": "d"})
    assert (await comm.receive_json_from(timeout=2))["response_status"] == 200
