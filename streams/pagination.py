"""Limit/offset pagination for list actions: ``{"count", "results", "limit", "offset"}``.

The client sends ``limit`` and ``offset`` as message keys. Differences from
DCRF, on purpose:

- ``PAGE_SIZE`` is read when a page is built, not at import, so
  ``override_settings`` and late configuration work.
- No ``PAGE_SIZE`` and no ``limit`` is not an error (DCRF crashed): the page
  has ``MAX_PAGE_SIZE`` objects (1000 by default; with ``MAX_PAGE_SIZE = None``
  it is everything from ``offset`` on and ``limit`` is ``null``). Same shape as
  any other page, so a client never has to handle two.
- An invalid ``limit`` or ``offset`` (``"abc"``, ``-1``, ``0`` for a limit, an
  object, ``true``) is a 400 naming the key. DRF silently fell back to the
  default, which hides client bugs and returns pages the client did not ask
  for. Numeric strings (``"10"``) are accepted, as in a query string.
- A ``limit`` above ``max_limit`` is clamped to it, as in DRF; ``max_limit``
  defaults to the ``MAX_PAGE_SIZE`` setting, so a client asking for ``10**30``
  gets a page of at most 1000 objects, and the reply's ``limit`` says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError

from streams.settings import api_settings

logger = logging.getLogger(__name__)


def _non_negative_int(value: Any, key: str, strict: bool) -> int:
    """``value`` as an int (``strict``: > 0), or a 400 naming ``key``."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and value.strip().isdigit() and len(value) < 20
    ):
        number = int(value)
    minimum = 1 if strict else 0
    if number is None or number < minimum:
        kind = "a positive integer" if strict else "a non-negative integer"
        raise ValidationError({key: [f"Must be {kind}."]})
    return number


class WebsocketLimitOffsetPagination:
    """DCRF's paginator: ``paginate_queryset`` then ``get_paginated_response``.

    A paginator keeps the state of the page it just built (``count``,
    ``limit``, ``offset``) between those two calls, as DRF's do. Both run in
    the same sync action, and sync actions run one at a time in the database
    thread, so two requests on one socket cannot interleave between them.
    """

    limit_query_param = "limit"
    offset_query_param = "offset"
    #: Cap on ``limit``; ``None``: the ``MAX_PAGE_SIZE`` setting.
    max_limit: int | None = None

    count: int
    limit: int | None
    offset: int

    @property
    def default_limit(self) -> int | None:
        """``PAGE_SIZE`` from the settings (at the time of the request), else the cap."""
        page_size = api_settings.PAGE_SIZE
        return int(page_size) if page_size else self.limit_cap

    @property
    def limit_cap(self) -> int | None:
        """The largest page: ``max_limit``, else ``MAX_PAGE_SIZE``; ``None``: unbounded."""
        if self.max_limit is not None:
            return self.max_limit
        cap = api_settings.MAX_PAGE_SIZE
        return int(cap) if cap else None

    def get_limit(self, **kwargs: Any) -> int | None:
        value = kwargs.get(self.limit_query_param)
        cap = self.limit_cap
        if value is None:
            limit = self.default_limit
        else:
            limit = _non_negative_int(value, self.limit_query_param, strict=True)
        if cap is not None and limit is not None:
            limit = min(limit, cap)
        return limit

    def get_offset(self, **kwargs: Any) -> int:
        value = kwargs.get(self.offset_query_param)
        if value is None:
            return 0
        return _non_negative_int(value, self.offset_query_param, strict=False)

    def get_count(self, queryset: QuerySet[Any] | Sequence[Any]) -> int:
        if isinstance(queryset, QuerySet):
            return queryset.count()
        return len(queryset)

    def paginate_queryset(
        self,
        queryset: QuerySet[Any] | Sequence[Any],
        scope: Mapping[str, Any] | None = None,
        view: Any = None,
        /,
        **kwargs: Any,
    ) -> list[Any]:
        """The objects of the page ``limit``/``offset`` in ``kwargs`` select.

        Positional-only parameters: every message key arrives in ``kwargs``,
        so a key named ``view`` or ``queryset`` cannot collide with them.
        """
        # Parse first: a bad limit is a 400 without a wasted COUNT query.
        self.limit = self.get_limit(**kwargs)
        self.offset = self.get_offset(**kwargs)
        self.count = self.get_count(queryset)
        if self.count == 0 or self.offset >= self.count:
            return []
        # Never slice past the end: a huge client limit or offset would
        # otherwise reach the database as an out-of-range SQL parameter.
        stop = self.count if self.limit is None else min(self.count, self.offset + self.limit)
        return list(queryset[self.offset : stop])

    def get_paginated_response(self, data: Any) -> dict[str, Any]:
        return {
            "count": self.count,
            "results": data,
            "limit": self.limit,
            "offset": self.offset,
        }

    def is_last_page(self) -> bool:
        """Does the page just built reach the end of the results?"""
        return self.limit is None or self.offset + self.limit >= self.count
