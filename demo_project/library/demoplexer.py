"""The demoplexer: the demo's whole websocket API in one route table.

Every stream is one line. To add one, see docs/DEMO.md ("Add a stream route in
three steps").
"""

from __future__ import annotations

from gateway import Gateway
from library.consumers import (
    AuthorConsumer,
    BookConsumer,
    ReviewConsumer,
    TagConsumer,
    UserConsumer,
)
from library.stats import LibraryStatsView
from streams.consumers import view_as_consumer


class Demoplexer(Gateway):
    streams = {
        "authors": AuthorConsumer,
        "books": BookConsumer,
        "tags": TagConsumer,
        "reviews": ReviewConsumer,
        "users": UserConsumer,
        # An existing DRF view, reused over the socket: {"action": "retrieve"} is a GET.
        "stats": view_as_consumer(LibraryStatsView.as_view(), mapped_actions={"retrieve": "GET"}),
    }
