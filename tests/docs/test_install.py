"""docs/INSTALL.md, pasted into a project made by ``django-admin startproject``.

The project is built from the page's blocks (tests/docs/support.py), checked
by ``manage.py check`` as the page shows, served by uvicorn and by daphne,
and called with the page's Python client, which must send an Origin.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
import websockets.exceptions

from tests.docs.support import Project, blocks, build_project, connect, console_commands

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    yield build_project(tmp_path_factory.mktemp("install"), ["INSTALL.md"])


def documented_client_output() -> dict:
    for block in blocks("INSTALL.md"):
        for command, output in console_commands(block) if block.lang == "console" else ():
            if command == "python client.py":
                return json.loads(output[0])
    raise AssertionError("INSTALL.md shows no output of `python client.py`")


def test_the_page_builds_a_project_django_finds_no_issue_with(project):
    # build_project ran `python manage.py check` and compared its output.
    assert any("System check identified no issues" in entry for entry in project.log)
    assert "get_asgi_application()  # first" in (project.root / "mysite/asgi.py").read_text()


@pytest.mark.parametrize("server", ["uvicorn", "daphne"])
def test_the_python_client_gets_the_documented_reply(project, server):
    client = (project.root / "client.py").read_text()
    with project.serve(server) as port:
        (project.root / f"client_{port}.py").write_text(client.replace("8000", str(port)))
        result = project.run(f"python client_{port}.py", timeout=30)
    assert json.loads(result.stdout) == documented_client_output()


def test_a_client_without_origin_is_refused(project):
    async def handshake(port: int, origin: bool) -> None:
        async with connect(port, origin=origin) as ws:
            await ws.send(json.dumps({"stream": "ping", "payload": {"action": "ping"}}))
            assert json.loads(await ws.recv())["payload"]["data"] == {"pong": True}

    with project.serve("uvicorn") as port:
        asyncio.run(handshake(port, origin=True))
        with pytest.raises(websockets.exceptions.InvalidStatus) as info:
            asyncio.run(handshake(port, origin=False))
    assert info.value.response.status_code == 403


def test_the_documented_server_commands_are_the_ones_served():
    commands = [
        c for b in blocks("INSTALL.md") if b.lang == "console" for c, _ in console_commands(b)
    ]
    assert "uvicorn mysite.asgi:application --port 8000" in commands
    assert "daphne -p 8000 mysite.asgi:application" in commands
