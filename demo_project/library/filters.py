"""The demo's filter backend: declared fields, from the message or from ``data``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from streams.filters import FieldFilterBackend

# Actions whose ``data`` may carry filters. Never the write actions: their
# ``data`` is the new state of the object, not a filter on which object.
LIST_ACTIONS = frozenset({"list", "subscribe_list"})


class LibraryFilterBackend(FieldFilterBackend):
    """``FieldFilterBackend`` (the consumer's ``filterset_fields``), also reading
    filters nested in ``data``.

    Hypermedia list links put filters at the top level of the payload
    (``{"action": "list", "author": 3}``), but dcrf-client's
    ``client.list(stream, filters)`` sends ``{"action": "list", "data": filters}``.
    Accepting both lets the npm client filter without a custom request; the
    top-level key wins when both are given.
    """

    def filter_queryset(
        self, scope: Mapping[str, Any], consumer: Any, queryset: QuerySet[Any], /, **kwargs: Any
    ) -> QuerySet[Any]:
        nested = kwargs.get("data")
        if kwargs.get("action") in LIST_ACTIONS and isinstance(nested, Mapping):
            kwargs = {**{str(k): v for k, v in nested.items()}, **kwargs}
        return super().filter_queryset(scope, consumer, queryset, **kwargs)
