"""The CI scripts' own inputs: the version matrix runs test paths that exist.

``.ci/matrix.py`` runs a fixed smoke subset on the oldest and newest supported
versions, late in ``make test``; a test module renamed or split without
updating that list would fail there only, after the whole suite. This fails
in the suite itself, naming the stale path.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_matrix_smoke_paths_exist() -> None:
    spec = importlib.util.spec_from_file_location("ci_matrix", ROOT / ".ci" / "matrix.py")
    assert spec is not None and spec.loader is not None
    matrix = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(matrix)
    missing = [path for path in matrix.SMOKE if not (ROOT / path).exists()]
    assert not missing, f"update SMOKE in .ci/matrix.py: {missing} no longer exist"
