"""Hostile lookups and parameter names against generic consumers: 404 or 400, never 500.

A lookup value comes straight from the client. Whatever it is, the reply must
be an ordinary "not found" (the value cannot name an object) or a 400 (text
no database can store: ``tests/security/test_streams_text.py``), the
socket must stay open, and no object may be reached that the lookup did not
name exactly.
"""

from __future__ import annotations

import pytest

from streams import mixins
from streams.generics import GenericAsyncAPIConsumer
from tests.conftest import request
from tests.streams.support import BookSerializer, make_books
from tests.testapp.models_streams import StreamsBook

pytestmark = pytest.mark.django_db(transaction=True)

NOT_FOUND = ["Not found"]


@pytest.fixture
def books(transactional_db):
    return make_books(3)


class Crud(
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.PatchModelMixin,
    mixins.DeleteModelMixin,
    mixins.PaginatedModelListMixin,
    GenericAsyncAPIConsumer,
):
    queryset = StreamsBook.objects.all()
    serializer_class = BookSerializer


class BySlug(Crud):
    lookup_field = "slug"


class ByUuid(Crud):
    lookup_field = "uuid"


class ByAuthorName(Crud):
    lookup_field = "author__name"
    lookup_url_kwarg = "name"


HOSTILE_VALUES = [
    "abc",
    "",
    "1; DROP TABLE testapp_streamsbook",
    "' OR '1'='1",
    "%",
    "*",
    "1" * 5000,
    {},
    {"$gt": 0},
    {"pk__gt": 0},
    [],
    [1],
    None,
    True,
    False,
    1.5,
    -1,
    0,
    10**30,
    -(10**30),
    2**63,
]

WRITE_DATA = {"title": "hacked", "slug": "hacked"}


def action_message(name: str, key: str, value) -> dict:
    message = {"action": name, key: value, "request_id": "h"}
    if name in ("update", "patch"):
        message["data"] = WRITE_DATA
    return message


# One test per action (not per value): each database test pays for a flush.
@pytest.mark.parametrize("name", ["retrieve", "update", "patch", "delete"])
async def test_hostile_pk_is_404(communicator, books, name):
    comm = await communicator(Crud.as_asgi())
    for value in HOSTILE_VALUES:
        got = await request(comm, action_message(name, "pk", value))
        assert (got["response_status"], got["errors"], got["request_id"]) == (
            404,
            NOT_FOUND,
            "h",
        ), value
    # The socket is still usable and nothing was touched.
    ok = await request(comm, {"action": "retrieve", "pk": books[0].pk})
    assert ok["response_status"] == 200 and ok["data"]["title"] == "book0"
    assert await StreamsBook.objects.acount() == 3
    assert not await StreamsBook.objects.filter(title="hacked").aexists()


@pytest.mark.parametrize("consumer", [BySlug, ByUuid], ids=lambda c: c.lookup_field)
async def test_hostile_other_lookup_fields_are_404(communicator, books, consumer):
    comm = await communicator(consumer.as_asgi())
    for value in HOSTILE_VALUES:
        got = await request(comm, {"action": "retrieve", consumer.lookup_field: value})
        assert (got["response_status"], got["errors"]) == (404, NOT_FOUND), value


async def test_related_lookup_is_exact(communicator, books):
    comm = await communicator(ByAuthorName.as_asgi())
    for value in ("%", "_", "A%", "ann", {}, ["Ann"], None, 10**30):
        got = await request(comm, {"action": "retrieve", "name": value})
        assert (got["response_status"], got["errors"]) == (404, NOT_FOUND), value


async def test_related_lookup_with_several_matches_is_not_a_500(communicator, books):
    # Three books share author "Ann": get() finds several objects. That is a
    # server-side design error of this lookup, reported, not a crash.
    comm = await communicator(ByAuthorName.as_asgi())
    got = await request(comm, {"action": "retrieve", "name": "Ann"})
    assert got["response_status"] == 500 and got["errors"] == ["Internal server error."]
    assert (await request(comm, {"action": "retrieve", "name": "Zed"}))["response_status"] == 404


async def test_numbers_json_cannot_hold_exactly(communicator, books):
    comm = await communicator(Crud.as_asgi())
    for text in ("1e309", "-1e309", "1e400", "123456789012345678901234567890", "NaN"):
        await comm.send_to(text_data=f'{{"action": "retrieve", "pk": {text}}}')
        got = await comm.receive_json_from(timeout=2)
        assert (got["response_status"], got["errors"]) == (404, NOT_FOUND), text


async def test_client_cannot_choose_the_lookup_field(communicator, books):
    comm = await communicator(Crud.as_asgi())
    # Only "pk" is the lookup; other keys never become lookups.
    for extra in ({"pk__gt": 0}, {"slug": "book-1"}, {"lookup_field": "slug"}):
        got = await request(comm, {"action": "retrieve", **extra})
        assert got["response_status"] == 400
        assert got["errors"] == [{"pk": ["This field is required."]}]


HOOK_PARAMETER_NAMES = [
    "queryset",
    "serializer",
    "instance",
    "obj",
    "view",
    "action_kwargs",
    "many",
    "partial",
    "context",
    "filter_kwargs",
    "lookup_field",
    "limit_query_param",
]


@pytest.mark.parametrize("name", ["retrieve", "update", "patch", "list", "delete"])
async def test_keys_named_like_hook_parameters_never_500(communicator, books, name):
    comm = await communicator(Crud.as_asgi())
    for key in HOOK_PARAMETER_NAMES:
        message = action_message(name, "pk", books[0].pk)
        message[key] = {"evil": True}
        got = await request(comm, message)
        # delete: 204 the first time, then 404 (already gone); never a 500.
        expected = {200} if name != "delete" else ({204} if key == "queryset" else {404})
        assert got["response_status"] in expected, (key, got)


@pytest.mark.parametrize("name", ["update", "patch"])
async def test_odd_write_data(communicator, books, name):
    comm = await communicator(Crud.as_asgi())
    for data in ([], "x", 1, [WRITE_DATA], {"id": 999, "pk": 999, "title": "t", "slug": "t"}):
        got = await request(comm, {"action": name, "pk": books[0].pk, "data": data})
        assert got["response_status"] in (200, 400), (data, got)
    # The id in data never redirects the write to another row.
    assert not await StreamsBook.objects.filter(pk=999).aexists()
    assert await StreamsBook.objects.acount() == 3
