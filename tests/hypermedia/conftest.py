"""Fixtures shared by the hypermedia tests: sample data and a serializer context."""

from __future__ import annotations

from typing import Any

import pytest

from tests.hypermedia.support import Library, context_for, table


@pytest.fixture
def lib() -> Library:
    """Sample authors, books, tags... (see ``support.Library``)."""
    return Library()


@pytest.fixture
def ctx() -> dict[str, Any]:
    """A serializer context whose scope carries the default route table."""
    return context_for(table())
