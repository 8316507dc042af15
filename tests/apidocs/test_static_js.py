"""The page's own modules (apidocs/static/apidocs/*.js), unit-tested in Node.

tests/apidocs/js/*.test.mjs run with Node's test runner on a document
generated here; the browser test (tests/integration/test_gateway_browser.py)
covers the rest of the page in Chromium. Skipped without Node, except under CI.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from apidocs.document import build_document
from tests.apidocs.support import ShowcaseGateway
from tests.services import run_node_tests

REPO_ROOT = Path(__file__).resolve().parents[2]
JS_TESTS = sorted((Path(__file__).parent / "js").glob("*.test.mjs"))


def test_the_document_reader_passes_its_node_tests(tmp_path: Path) -> None:
    document = tmp_path / "asyncapi.json"
    document.write_text(json.dumps(build_document(ShowcaseGateway)))
    passed = run_node_tests(JS_TESTS, REPO_ROOT, {"ASYNCAPI_DOCUMENT": str(document)})
    assert passed == 7  # fewer means tests were lost


def test_the_page_imports_nothing_from_outside_the_packages() -> None:
    """No CDN, no build step: relative imports and the client's import-map name only."""
    static = REPO_ROOT / "apidocs" / "static" / "apidocs"
    for module in static.glob("*.js"):
        for line in module.read_text().splitlines():
            found = re.match(r'^import .* from "([^"]+)";$', line)
            if found:
                assert found.group(1).startswith("./") or found.group(1) == "channels-gateway", (
                    module.name,
                    line,
                )
