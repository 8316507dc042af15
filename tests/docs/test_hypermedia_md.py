"""docs/HYPERMEDIA.md's first example, run as written over a gateway.

The block is executed with the test app's models under the page's names
(``Author`` is ``HyperAuthor``...) and the consumers the page only names
(tags, profiles, publishers) from tests/hypermedia/support.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.testing import GatewayCommunicator
from tests.docs.support import blocks
from tests.hypermedia import support
from tests.testapp import models_hypermedia as models

pytestmark = pytest.mark.django_db(transaction=True)


def example() -> dict[str, Any]:
    (code,) = [b.body for b in blocks("HYPERMEDIA.md") if "class Library(Gateway)" in b.body]
    namespace: dict[str, Any] = {
        "Author": models.HyperAuthor,
        "Book": models.HyperBook,
        "TagConsumer": support.TagConsumer,
        "ProfileConsumer": support.ProfileConsumer,
        "PublisherConsumer": support.PublisherConsumer,
    }
    exec(compile(code, "docs/HYPERMEDIA.md", "exec"), namespace)
    return namespace


async def call(comm: GatewayCommunicator, stream: str, payload: dict[str, Any]) -> Any:
    await comm.send_to(stream, payload)
    return await comm.receive_from(stream, request_id=payload["request_id"], timeout=5)


async def test_the_example_creates_and_links():
    page = example()
    async with GatewayCommunicator(page["Library"].as_asgi()) as comm:
        author = await call(
            comm, "authors", {"action": "create", "data": {"name": "Ann"}, "request_id": 1}
        )
        # The bug the page had: the reverse relations were required input.
        assert author["response_status"] == 201, author
        author_link = author["data"]["@id"]
        pk = author_link["payload"]["pk"]
        assert author["data"]["books"] == {
            "stream": "books",
            "payload": {"action": "list", "author": pk},
        }

        book = await call(
            comm,
            "books",
            {"action": "create", "data": {"title": "Dune", "author": author_link}, "request_id": 2},
        )
        assert book["response_status"] == 201, book
        assert book["data"]["author"] == author_link

        listed = await call(comm, "books", {**author["data"]["books"]["payload"], "request_id": 3})
        assert listed["data"] == [book["data"]["@id"]]
