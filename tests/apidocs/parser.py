"""The official AsyncAPI parser (npm ``@asyncapi/parser``), run through Node.

``run_parser(node, documents, tmp_path)`` writes each document to a file, runs
``tests/apidocs/node/validate.js`` on all of them in one Node process and
returns the parser's summary per document (``errors``, ``warnings``,
``channels``, ``operations``). ``npm ci`` installs the pinned parser first
when ``node_modules`` lacks it. Skipped without node/npm, except under CI.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.services import require_executable

NODE_DIR = Path(__file__).resolve().parent / "node"


@pytest.fixture(scope="session")
def node_with_parser() -> str:
    node = require_executable("node")
    npm = require_executable("npm")
    if not (NODE_DIR / "node_modules" / "@asyncapi" / "parser").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return node


def run_parser(node: str, documents: list[Any], tmp_path: Path) -> list[dict[str, Any]]:
    files = []
    for index, document in enumerate(documents):
        file = tmp_path / f"asyncapi-{index}.json"
        text = document if isinstance(document, str) else json.dumps(document)
        file.write_text(text, encoding="utf-8")
        files.append(str(file))
    result = subprocess.run(
        [node, "validate.js", *files],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    summaries = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(summaries) == len(files), result.stdout + result.stderr
    return summaries
