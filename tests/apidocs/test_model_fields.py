"""apidocs.model_fields: filter keys and lookups typed from the consumer's model."""

from __future__ import annotations

from tests.apidocs.support import showcase


def test_list_takes_declared_filters_drf_backends_and_pages() -> None:
    op = showcase("books")["list"]
    params = op.parameters
    assert params["pages"]["type"] == "integer"
    assert params["pages__in"]["type"] == "array"
    assert params["pages__range"]["minItems"] == params["pages__range"]["maxItems"] == 2
    assert params["author__name__icontains"]["type"] == "string"
    assert params["search"]["type"] == "string"  # DRF SearchFilter's own description
    assert params["ordering"]["type"] == "string"
    assert {"limit", "offset"} <= set(params)
    assert op.streamed is True
    assert set(op.reply["required"]) == {"count", "results", "limit", "offset", "last"}
