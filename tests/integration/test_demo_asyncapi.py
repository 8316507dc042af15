"""The demo's AsyncAPI document: served at /asyncapi.json and printed by
``manage.py asyncapi``, both valid for the official parser (npm @asyncapi/parser)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apidocs.parser import node_with_parser, run_parser
from tests.integration.demo_server import DemoServer, run_demo_server

pytestmark = [pytest.mark.interop, pytest.mark.slow]

__all__ = ["node_with_parser"]

DEMO_STREAMS = {"authors", "books", "tags", "reviews", "users", "stats"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    with run_demo_server(tmp_path_factory.mktemp("demo-asyncapi")) as running:
        yield running


def test_the_demo_serves_and_prints_a_valid_document(
    node_with_parser: str, server: DemoServer, tmp_path: Path
) -> None:
    with urllib.request.urlopen(f"{server.url}/asyncapi.json", timeout=30) as response:
        assert response.headers["Content-Type"] == "application/json"
        served = json.load(response)
    printed = json.loads(
        server.manage("asyncapi", "--gateway", "library.demoplexer.Demoplexer").stdout
    )
    browsable = json.loads(
        urllib.request.urlopen(f"{server.url}/gateway/asyncapi.json", timeout=30).read()
    )
    for summary in run_parser(node_with_parser, [served, printed, browsable], tmp_path):
        assert summary["parsed"] and summary["errors"] == [], summary
        assert summary["warnings"] == [], summary
        assert set(summary["channels"]) == DEMO_STREAMS | {"gateway"}
    # The same streams and actions, whichever way it was obtained; only the server differs.
    assert served["channels"] == printed["channels"] == browsable["channels"]
    assert served["operations"] == printed["operations"]
    assert served["servers"]["gateway"]["host"] == server.url.removeprefix("http://")
    assert served["servers"]["gateway"]["pathname"] == "/ws/"
    # The demo's own extension: top_rated's limit, declared with @action(asyncapi=...).
    top_rated = served["channels"]["books"]["messages"]["top_rated_request"]["payload"]
    limit = top_rated["properties"]["payload"]["properties"]["limit"]
    assert limit == {"type": "integer", "minimum": 1, "maximum": 20, "default": 3}
