"""The shipped JS client (gateway/static/gateway/client.js), unit-tested in Node.

The tests themselves are in tests/js/*.test.mjs, run by Node's built-in test
runner against a fake WebSocket; this module runs them so that `make test`
and CI do. Node 20+ is needed (skipped without it, failed under CI=true).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.services import run_node_tests

REPO_ROOT = Path(__file__).resolve().parents[2]
JS_TESTS = sorted((REPO_ROOT / "tests" / "js").glob("*.test.mjs"))
STATIC = REPO_ROOT / "gateway" / "static" / "gateway"


def test_client_unit_tests_pass_in_node() -> None:
    assert JS_TESTS, "no tests/js/*.test.mjs found"
    passed = run_node_tests(JS_TESTS, REPO_ROOT)
    assert passed >= 30  # fewer means tests were lost


def test_client_ships_as_package_data_with_its_types() -> None:
    """The module and its declarations are package files, not demo files."""
    source = (STATIC / "client.js").read_text()
    types = (STATIC / "client.d.ts").read_text()
    for name in ("GatewayClient", "Subscription", "GatewayError", "isLink", "isSuccess"):
        assert re.search(rf"^export (class|function) {name}\b", source, re.M), name
        assert re.search(rf"^export declare (class|function) {name}\b", types, re.M), name
    # No build step, no CDN: the module imports nothing.
    assert not re.search(r"^\s*import\b", source, re.M)
