"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright.

The ``browser`` fixture (tests/integration/conftest.py) launches it once per
test; without the executable the test skips before any server starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.services import require_executable

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: How long a Playwright expectation waits (the tests set it on ``expect``).
TIMEOUT_MS = 10_000


def launch_chromium() -> Iterator[Any]:
    """Yield a launched headless Chromium; close it afterwards."""
    executable = require_executable("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()
