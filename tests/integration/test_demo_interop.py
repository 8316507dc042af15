"""dcrf-client, the npm client DCRF users run in their front ends, against the demo.

Runs tests/interop/dcrf_client_suite.js (Node) against a live demo server and
fails on any failed check. ``npm ci`` installs the pinned client first when
tests/interop/node_modules is missing.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator

import pytest

from tests.integration.demo_server import REPO_ROOT, DemoServer, run_demo_server
from tests.services import require_executable

pytestmark = pytest.mark.interop

INTEROP_DIR = REPO_ROOT / "tests" / "interop"
SUITE = "dcrf_client_suite.js"
# Fewer checks than this means the suite stopped early or lost tests.
MINIMUM_CHECKS = 20


@pytest.fixture(scope="module")
def node() -> str:
    node = require_executable("node")
    npm = require_executable("npm")
    if not (INTEROP_DIR / "node_modules" / "dcrf-client").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=INTEROP_DIR,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return node


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    with run_demo_server(tmp_path_factory.mktemp("demo-interop")) as running:
        yield running


def test_dcrf_client_suite_passes(node: str, server: DemoServer) -> None:
    result = subprocess.run(
        [node, SUITE],
        cwd=INTEROP_DIR,
        env={**os.environ, "DEMO_URL": server.url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = f"{result.stdout}\n{result.stderr}\n--- server log ---\n{server.log()[-4000:]}"
    summary = re.search(r"^(\d+) passed, (\d+) failed$", result.stdout, re.M)
    assert summary, f"the suite printed no summary:\n{output}"
    passed, failed = int(summary.group(1)), int(summary.group(2))
    assert failed == 0 and result.returncode == 0, output
    assert passed >= MINIMUM_CHECKS, output
