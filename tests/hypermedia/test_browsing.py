"""hypermedia.follow: browse the resource graph by sending links back through the gateway."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.testing import GatewayCommunicator
from hypermedia import follow
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from tests.hypermedia.support import Library, LibraryGateway, link

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lib(transactional_db: Any) -> Library:
    return Library()


def pks(data: list[dict[str, Any]] | list[Any]) -> list[Any]:
    return [item["payload"]["pk"] for item in data]


async def test_follow_identity_and_relations(lib: Library) -> None:
    async with GatewayCommunicator(LibraryGateway.as_asgi()) as comm:
        book = await follow(comm, link("books", pk=lib.dune.pk))
        assert book["response_status"] == 200 and book["data"]["title"] == "Dune"
        # Following @id gets the same object again.
        again = await follow(comm, book["data"]["@id"])
        assert again["data"] == book["data"]
        author = await follow(comm, book["data"]["author"])
        assert author["data"]["name"] == "Ann"
        profile = await follow(comm, author["data"]["profile"])
        assert profile["data"]["bio"] == "writes"
        # One-to-one back to the author.
        assert (await follow(comm, profile["data"]["author"]))["data"]["name"] == "Ann"
        publisher = await follow(comm, book["data"]["publisher"])
        assert publisher["data"]["slug"] == "pen"


async def test_list_links_list_exactly_the_related_objects(lib: Library) -> None:
    async with GatewayCommunicator(LibraryGateway.as_asgi()) as comm:
        ann = (await follow(comm, link("authors", pk=lib.ann.pk)))["data"]
        # Reverse foreign key: Ann's books, not Bob's (the draft is hidden by the stream).
        books = await follow(comm, ann["books"])
        assert books["action"] == "list"
        assert pks(books["data"]) == [lib.dune.pk, lib.emma.pk]
        # Many-to-many, forward side: Dune's tags...
        dune = (await follow(comm, link("books", pk=lib.dune.pk)))["data"]
        tags = await follow(comm, dune["tags"])
        assert pks(tags["data"]) == [lib.sf.pk, lib.classic.pk]
        # ...and reverse side: the books tagged "classic".
        classic = (await follow(comm, link("tags", pk=lib.classic.pk)))["data"]
        classics = await follow(comm, classic["books"])
        assert pks(classics["data"]) == [lib.dune.pk, lib.emma.pk]
        bob = (await follow(comm, link("authors", pk=lib.bob.pk)))["data"]
        assert pks((await follow(comm, bob["books"]))["data"]) == [lib.ulysses.pk]


async def test_errors_come_back_as_replies(lib: Library) -> None:
    async with GatewayCommunicator(LibraryGateway.as_asgi()) as comm:
        missing = await follow(comm, link("books", pk=10**6))
        assert missing["response_status"] == 404 and missing["errors"] == ["Not found"]


async def test_given_request_id_is_used(lib: Library) -> None:
    async with GatewayCommunicator(LibraryGateway.as_asgi()) as comm:
        reply = await follow(comm, link("authors", pk=lib.ann.pk), request_id=42)
        assert reply["request_id"] == 42


async def test_other_frames_stay_for_their_readers(lib: Library) -> None:
    async with GatewayCommunicator(LibraryGateway.as_asgi()) as comm:
        await comm.send_to("authors", {"action": "retrieve", "pk": lib.bob.pk, "request_id": "x"})
        reply = await follow(comm, link("authors", pk=lib.ann.pk))
        assert reply["data"]["name"] == "Ann"
        other = await comm.receive_from(stream="authors", request_id="x")
        assert other["data"]["name"] == "Bob"


class Silent(AsyncAPIConsumer):
    @action()
    async def retrieve(self, **kwargs: Any) -> None:
        return None  # replies nothing


async def test_no_reply_times_out() -> None:
    class Quiet(LibraryGateway):
        streams = {"quiet": Silent}

    async with GatewayCommunicator(Quiet.as_asgi()) as comm:
        with pytest.raises(TimeoutError):
            await follow(comm, link("quiet", pk=1), timeout=0.2)


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (None, ValueError),
        ("books", TypeError),
        ({"stream": "books"}, TypeError),
        ({"stream": 1, "payload": {"action": "retrieve"}}, TypeError),
        ({"stream": "books", "payload": {"pk": 1}}, TypeError),
    ],
)
async def test_not_a_link(bad: Any, error: type[Exception]) -> None:
    async with GatewayCommunicator(LibraryGateway.as_asgi()) as comm:
        with pytest.raises(error):
            await follow(comm, bad)


async def test_not_a_client() -> None:
    with pytest.raises(TypeError, match="send_to"):
        await follow(object(), link("books", pk=1))  # type: ignore[arg-type]
