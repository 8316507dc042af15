"""apidocs.operations: the stream context a schema reads (its consumer instance)."""

from __future__ import annotations

import pytest

from streams.generics import GenericAsyncAPIConsumer
from streams.mixins import RetrieveModelMixin
from tests.apidocs.support import ShowcaseBookSerializer, operations
from tests.testapp.models_streams import StreamsBook


def test_a_consumer_that_cannot_be_created_is_an_error_naming_the_fix() -> None:
    class NeedsArgs(RetrieveModelMixin, GenericAsyncAPIConsumer):
        queryset = StreamsBook.objects.all()
        serializer_class = ShowcaseBookSerializer

        def __init__(self, token: str) -> None:
            super().__init__()

    with pytest.raises(TypeError, match=r"cannot create .*NeedsArgs.* give it an asyncapi_schema"):
        operations({"needs": NeedsArgs}, "needs")
