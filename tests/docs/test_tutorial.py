"""docs/TUTORIAL.md: its project built and served, its frames sent and received.

Built with the production channel layer of INSTALL.md (step 6) on a
redis-server of its own (a free port: no other run's groups), so the page's
``manage.py shell`` write, made by another process, reaches the client.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.docs.support import (
    Project,
    blocks,
    build_project,
    connect,
    console_commands,
    expect_frames,
    frame_steps,
    free_port,
    wait_for_port,
)
from tests.services import require_executable

pytestmark = [pytest.mark.slow, pytest.mark.redis]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_executable("redis-server")
    port = free_port()
    log = (tmp_path_factory.mktemp("redis") / "redis.log").open("w+")
    process = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=log,
        stderr=log,
    )
    try:
        wait_for_port(port, process, log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Project:
    return build_project(
        tmp_path_factory.mktemp("tutorial"),
        ["INSTALL.md", "TUTORIAL.md"],
        production=True,
        REDIS_URL=redis_url,
    )


def test_the_frames_of_the_page(project):
    steps: list[tuple[str, object]] = []
    for block in blocks("TUTORIAL.md"):
        if block.lang == "text":
            steps += frame_steps(block)
        elif block.lang == "console":
            steps += [("run", c) for c, _ in console_commands(block) if " shell " in c]
    assert [kind for kind, _ in steps].count("send") == 6
    assert [kind for kind, _ in steps].count("run") == 1

    async def play(port: int) -> None:
        async with connect(port) as ws:
            for kind, value in steps:
                if kind == "send":
                    await ws.send(json.dumps(value))
                elif kind == "expect":
                    await expect_frames(ws, value)  # type: ignore[arg-type]
                else:
                    await asyncio.to_thread(project.run, value)  # type: ignore[arg-type]
            # Nothing undocumented follows.
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.5):
                    await ws.recv()

    with project.serve("uvicorn") as port:
        asyncio.run(play(port))


def check_with(project: Project, settings_tail: str) -> str:
    settings = project.root / "mysite/settings.py"
    original = settings.read_text()
    settings.write_text(original + "\n" + settings_tail + "\n")
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", "check"],
            cwd=project.root,
            env=project.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        settings.write_text(original)
    return result.stdout + result.stderr


def test_without_the_streams_app_the_server_and_check_say_so(project):
    settings = project.root / "mysite/settings.py"
    original = settings.read_text()
    settings.write_text(original + '\nINSTALLED_APPS.remove("streams")\n')
    try:
        # The server imports the consumers at start-up, and logs the error.
        with project.serve("uvicorn") as port:
            log = (project.root / f"uvicorn-{port}.log").read_text()
        # check reports it once the consumers are imported (as `manage.py
        # test` or a urls.py importing them does).
        checked = project.run(
            'python manage.py shell -c "import library.consumers; '
            "from django.core.management import call_command; "
            "call_command('check', fail_level='CRITICAL')\""
        )
    finally:
        settings.write_text(original)
    assert '"streams" is not in INSTALLED_APPS' in log
    assert "streams.E001" in checked.stdout + checked.stderr
    assert "library.Book" in checked.stdout + checked.stderr


def test_check_reports_observers_without_a_channel_layer(project):
    output = check_with(project, "del CHANNEL_LAYERS")
    assert "streams.E002" in output
    assert "library.consumers.BookConsumer" in output
