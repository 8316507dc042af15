"""``manage.py asyncapi`` (apidocs/management/commands/asyncapi.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("asyncapi", *args, stdout=out)
    return out.getvalue()


def test_prints_the_document_of_the_named_gateway() -> None:
    document = json.loads(run("--gateway", "tests.apidocs.support.ShowcaseGateway"))
    assert document["asyncapi"] == "3.0.0"
    assert {"books", "live-authors", "clock", "ping", "echo", "gateway"} == set(
        document["channels"]
    )
    assert document["servers"]["gateway"]["host"] == "localhost:8000"


def test_options_set_the_server_info_and_layout(tmp_path: Path) -> None:
    target = tmp_path / "asyncapi.json"
    printed = run(
        "--gateway=tests.apidocs.support.ShowcaseGateway",
        "--host=api.example.com",
        "--path=/socket/",
        "--protocol=wss",
        "--title=Showcase",
        "--doc-version=3.1",
        "--indent=0",
        f"--output={target}",
    )
    assert printed == ""
    text = target.read_text()
    assert "\n" not in text.strip()
    document = json.loads(text)
    assert document["info"]["title"] == "Showcase"
    assert document["info"]["version"] == "3.1"
    assert document["servers"]["gateway"]["protocol"] == "wss"
    assert document["servers"]["gateway"]["pathname"] == "/socket/"


def test_a_path_that_does_not_import_is_an_error_naming_the_fix() -> None:
    with pytest.raises(CommandError, match=r"Cannot import the gateway 'nowhere\.Gateway'"):
        run("--gateway", "nowhere.Gateway")


def test_something_that_is_not_a_gateway_is_an_error() -> None:
    with pytest.raises(CommandError, match="needs a Gateway subclass"):
        run("--gateway", "tests.apidocs.support.PingView")
