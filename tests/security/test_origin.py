"""Foreign Origins are refused by every ASGI application we ship (checklist item 11).

The demo's ``asgi.py`` is loaded with the demo's own settings (its ALLOWED_HOSTS;
the test settings allow every host), in a child process, and driven in-process
there with Channels' ``WebsocketCommunicator``: the handshake is refused before
the gateway runs unless the Origin names an allowed host.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.integration.demo_server import DEMO_DIR, REPO_ROOT, demo_env

# Run in the child: prints {origin: accepted} for each Origin header tried.
PROBE = """
import asyncio, json, sys
from channels.testing import WebsocketCommunicator
from demo_project.asgi import application

async def main():
    results = {}
    for origin in json.loads(sys.argv[1]):
        headers = [(b"host", b"127.0.0.1:8000")]
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
        connected, _ = await communicator.connect()
        if connected:
            await communicator.disconnect()
        results[repr(origin)] = connected
    print(json.dumps(results))

asyncio.run(main())
"""

FOREIGN = [
    "http://evil.example",
    "https://evil.example:8000",
    "http://127.0.0.1.evil.example:8000",
    "http://evil.example/127.0.0.1",
    "null",
    "file://",
    None,  # no Origin header at all
]
OWN = ["http://127.0.0.1:8000", "http://localhost:8000", "https://localhost"]


def test_demo_refuses_foreign_origins_and_accepts_its_own(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(FOREIGN + OWN)],
        cwd=DEMO_DIR,
        env=demo_env(tmp_path / "unused.sqlite3"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    accepted = json.loads(result.stdout.strip().splitlines()[-1])
    assert accepted == {repr(origin): origin in OWN for origin in FOREIGN + OWN}


def _shipped_asgi_modules() -> list[Path]:
    """Every ``asgi.py`` in what we ship: the packages and the demo (tests/ is not shipped)."""
    roots = [REPO_ROOT / name for name in ("gateway", "streams", "hypermedia", "demo_project")]
    return sorted(path for root in roots for path in root.rglob("asgi.py"))


def test_every_shipped_asgi_application_is_wrapped_in_the_origin_validator() -> None:
    modules = _shipped_asgi_modules()
    assert DEMO_DIR / "demo_project" / "asgi.py" in modules
    for path in modules:
        tree = ast.parse(path.read_text(), str(path))
        defines_application = any(
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "application" for t in node.targets)
            for node in tree.body
        )
        if not defines_application:
            continue  # e.g. gateway/asgi.py: type aliases, no application
        calls = {
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert "AllowedHostsOriginValidator" in calls, (
            f"{path.relative_to(REPO_ROOT)} serves websockets without AllowedHostsOriginValidator"
        )
