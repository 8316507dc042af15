"""Fixtures of the apidocs tests: ``validate`` runs the official AsyncAPI parser."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.apidocs.parser import node_with_parser, run_parser

__all__ = ["Validate", "node_with_parser", "validate"]

Validate = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def validate(node_with_parser: str, tmp_path: Path) -> Validate:
    def run(*documents: Any) -> list[dict[str, Any]]:
        return run_parser(node_with_parser, list(documents), tmp_path)

    return run
