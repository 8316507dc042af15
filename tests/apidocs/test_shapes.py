"""apidocs.shapes: pages, snapshots and pushes of the mixins' contracts."""

from __future__ import annotations

from streams.generics import GenericAsyncAPIConsumer
from streams.mixins import PaginatedModelListMixin
from tests.apidocs.support import ShowcaseBookSerializer, operations, showcase
from tests.testapp.models_streams import StreamsBook


def test_paginated_list_without_a_paginator_replies_a_plain_list() -> None:
    class Plain(PaginatedModelListMixin, GenericAsyncAPIConsumer):
        queryset = StreamsBook.objects.all()
        serializer_class = ShowcaseBookSerializer
        pagination_class = None

    op = operations({"plain": Plain}, "plain")["list"]
    assert op.reply["type"] == "array"
    assert "limit" not in op.parameters


def test_subscribe_actions_take_snapshot_and_list_filters() -> None:
    ops = showcase("live-authors")
    assert ops["subscribe_instance"].parameters["snapshot"]["type"] == "boolean"
    assert ops["subscribe_instance"].required == ["pk"]
    assert ops["subscribe_list"].parameters["name"]["type"] == "string"
    assert [push.action for push in ops["subscribe_list"].pushes] == ["create", "update", "delete"]
    assert ops["unsubscribe_list"].statuses == (204,)
