"""Build the reference virtualenv: DCRF 1.3 + channelsmultiplexer 0.0.3.

Everything both stacks share (Django, channels, DRF, the ASGI servers, the Redis
layer, and the libraries whose speed shows up in the figures: uvloop,
httptools, websockets, asgiref, msgpack) is pinned to the exact versions
installed in the environment running the harness (our ``.venv``), read with
``importlib.metadata``. A stamp file records the pins; when ours change, the
reference venv is brought in line on the next run.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import venv
from pathlib import Path

REFERENCE_PACKAGES = ["djangochannelsrestframework==1.3.0", "channelsmultiplexer==0.0.3"]

# Shared with our stack; pinned to our versions. Missing ones are skipped.
SHARED_PACKAGES = [
    "Django",
    "asgiref",
    "sqlparse",
    "channels",
    "djangorestframework",
    "uvicorn",
    "uvloop",
    "httptools",
    "websockets",
    "daphne",
    "twisted",
    "autobahn",
    "channels_redis",
    "redis",
    "msgpack",
    "psutil",
    # PostgreSQL rows: the same driver on both stacks.
    "psycopg",
    "psycopg-binary",
]

REF_VENV = Path(__file__).resolve().parent / ".ref-venv"


def shared_pins() -> list[str]:
    """``name==version`` for every shared package installed here."""
    pins = []
    for name in SHARED_PACKAGES:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return pins


def requirements() -> list[str]:
    return [*shared_pins(), *REFERENCE_PACKAGES]


def python_path(path: Path = REF_VENV) -> Path:
    return path / "bin" / "python"


def ensure_reference_venv(path: Path = REF_VENV, log=print) -> Path:  # type: ignore[no-untyped-def]
    """Create or update the reference venv; return its python."""
    wanted = requirements()
    stamp = path / "bench-requirements.json"
    python = python_path(path)
    if python.exists() and stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return python
    if not python.exists():
        log(f"creating the reference venv at {path} (once; takes a minute)")
        venv.EnvBuilder(with_pip=True, clear=True).create(path)
    else:
        log("updating the reference venv to match our package versions")
    command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    result = subprocess.run(
        [*command, *wanted], capture_output=True, text=True, check=False, timeout=900
    )
    if result.returncode != 0:
        raise RuntimeError(
            "could not install the reference stack into "
            f"{path}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        )
    stamp.write_text(json.dumps(wanted))
    return python


def installed_versions(python: Path | str) -> dict[str, str]:
    """Versions of the shared and reference packages as seen by ``python``."""
    names = [*SHARED_PACKAGES, "djangochannelsrestframework", "channelsmultiplexer"]
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        f"for n in {names!r}:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "json.dump(out, sys.stdout)\n"
    )
    result = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(result.stdout)


if __name__ == "__main__":
    print(ensure_reference_venv())
    print(installed_versions(python_path()))
    sys.exit(0)
