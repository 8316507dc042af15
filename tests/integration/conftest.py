"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.browser import launch_chromium


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium (skips the test when there is none): see browser.py."""
    yield from launch_chromium()
