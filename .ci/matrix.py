"""Prove the supported-version claims: the wheel against the oldest and newest stack.

setup.cfg's classifiers and bounds promise Python 3.11-3.13, Django 5.2-6.0,
Django REST framework 3.16-3.18 and Channels 4.2-4.3. The main run (``make
pytest``) uses the .venv's versions; this script installs the built wheel
(``make dist``) into one venv per combination below, with exactly those
versions, and runs a smoke subset of the suite there: the modules where the
package meets Django, DRF and Channels.

The venvs live in .matrix/ (gitignored) and are reused while their
requirements are unchanged; pip's cache makes a fresh one quick. Interpreters
come from pyenv (/root/.pyenv/versions); a missing one is a skip, except
under CI=true where it is a failure.
"""

from __future__ import annotations

import glob
import hashlib
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MATRIX = ROOT / ".matrix"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# (name, Python, pins): the lower bounds together, and the newest releases.
COMBINATIONS = [
    ("oldest", "3.11", ["Django==5.2", "djangorestframework==3.16.0", "channels==4.2.0"]),
    ("newest", "3.13", ["Django>=6.0,<6.1", "djangorestframework>=3.18,<3.19", "channels>=4.3,<5"]),
]
# channels_redis: tests/conftest.py imports the production-stack layer helpers.
TEST_TOOLS = [
    "pytest>=8",
    "pytest-django>=4.9",
    "pytest-asyncio>=0.24",
    "daphne>=4.1",
    "channels_redis>=4.2",
]
SMOKE = [
    "tests/streams/test_consumers.py",
    "tests/streams/test_generics.py",
    "tests/streams/test_mixins.py",
    "tests/streams/permissions",
    "tests/streams/test_checks.py",
    "tests/streams/observer/test_consumer_mixin.py",
    "tests/streams/observer/test_instance_mixin.py",
    "tests/streams/observer/test_list_mixin.py",
    "tests/gateway/test_gateway.py",
    "tests/gateway/test_pytest_plugin.py",
    "tests/hypermedia/test_serializers.py",
    # DRF's serializer-to-schema mapping, which apidocs reuses.
    "tests/apidocs/test_schemas.py",
    "tests/docs/test_hypermedia_md.py",
]


def interpreter(version: str) -> str | None:
    found = sorted(glob.glob(f"/root/.pyenv/versions/{version}.*/bin/python"))
    return found[-1] if found else None


def venv_for(name: str, python: str, requirements: list[str]) -> Path:
    venv = MATRIX / name
    stamp = venv / ".requirements"
    wanted = hashlib.sha256("\n".join([python, *requirements]).encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        # Same pins: only the wheel changes between runs.
        subprocess.run(
            [
                venv / "bin/python",
                "-m",
                "pip",
                "install",
                "-qq",
                "--force-reinstall",
                "--no-deps",
                requirements[0],
            ],
            check=True,
        )
        return venv
    subprocess.run([python, "-m", "venv", "--clear", venv], check=True)
    subprocess.run([venv / "bin/python", "-m", "pip", "install", "-qq", *requirements], check=True)
    stamp.write_text(wanted)
    return venv


def run_combination(name: str, version: str, pins: list[str], wheel: Path) -> tuple[bool, str]:
    """Install and run one combination: ``(passed or skipped, what to print)``."""
    python = interpreter(version)
    if python is None:
        message = f"matrix {name}: no Python {version} under /root/.pyenv/versions"
        if IN_CI:
            return False, message + " (CI=true: must run)"
        return True, message + ": skipped"
    started = time.monotonic()
    venv = venv_for(name, python, [str(wheel), *pins, *TEST_TOOLS])
    versions = subprocess.run(
        [
            venv / "bin/python",
            "-c",
            "import sys, django, rest_framework, channels; print("
            "f'Python {sys.version.split()[0]}, Django {django.__version__}, "
            "DRF {rest_framework.__version__}, Channels {channels.__version__}')",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # No cache provider: the combinations run at once in the same directory.
    pytest = [venv / "bin/python", "-m", "pytest", "-q", "-p", "no:randomly"]
    result = subprocess.run(
        [*pytest, "-p", "no:cacheprovider", *SMOKE],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    elapsed = time.monotonic() - started
    passed = result.returncode == 0
    summary = f"matrix {name} ({versions}): {'passed' if passed else 'FAILED'} in {elapsed:.0f}s"
    tail = result.stdout[-3000:] if passed else result.stdout + result.stderr
    return passed, f"{tail.rstrip()}\n{summary}"


def main() -> int:
    wheels = sorted((ROOT / "dist").glob("channels_gateway-*.whl"))
    if len(wheels) != 1:
        print("matrix: build the wheel first (make dist)", file=sys.stderr)
        return 2
    # The combinations are independent venvs: run them side by side (CI's
    # wall time), each one's output printed whole once it is done.
    with ThreadPoolExecutor(max_workers=len(COMBINATIONS)) as pool:
        outcomes = list(
            pool.map(lambda combination: run_combination(*combination, wheels[0]), COMBINATIONS)
        )
    failed = []
    for (name, _, _), (passed, output) in zip(COMBINATIONS, outcomes, strict=True):
        print(output, flush=True)
        if not passed:
            failed.append(name)
    if failed:
        print(f"matrix: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
