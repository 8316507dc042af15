"""Check the built sdist and wheel (``make dist``) the way an installer sees them.

``twine check --strict`` proves the README renders on PyPI; this script checks
what twine does not: the files each archive must carry, that the version is
the one ``gateway.__version__`` says, that every classifier is a real Trove
classifier, and that the changelog has an entry for the version.
"""

from __future__ import annotations

import email
import sys
import tarfile
import zipfile
from pathlib import Path

from trove_classifiers import classifiers as known_classifiers

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway import __version__  # noqa: E402

PACKAGES = ("gateway", "streams", "hypermedia", "apidocs")


def fail(message: str) -> None:
    raise SystemExit(f"check_dist: {message}")


def check_wheel(path: Path) -> None:
    with zipfile.ZipFile(path) as wheel:
        names = set(wheel.namelist())
        dist_info = f"channels_gateway-{__version__}.dist-info"
        metadata = email.message_from_bytes(wheel.read(f"{dist_info}/METADATA"))
        entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
    if metadata["Version"] != __version__:
        fail(f"wheel version {metadata['Version']} != gateway.__version__ {__version__}")
    for package in PACKAGES:
        for required in (f"{package}/__init__.py", f"{package}/py.typed"):
            if required not in names:
                fail(f"{required} is missing from {path.name}")
    # The browser client ships as static files of gateway (docs/CLIENT.md), the
    # browsable gateway as apidocs' template and static files (docs/ASYNCAPI.md).
    for required in (
        "gateway/static/gateway/client.js",
        "gateway/static/gateway/client.d.ts",
        "apidocs/templates/apidocs/browse.html",
        "apidocs/static/apidocs/browse.js",
    ):
        if required not in names:
            fail(f"{required} is missing from {path.name}")
    if not any(name.startswith(f"{dist_info}/") and name.endswith("LICENSE") for name in names):
        fail(f"LICENSE is missing from {path.name}")
    stray = sorted({name.split("/")[0] for name in names} - {*PACKAGES, dist_info})
    if stray:
        fail(f"{path.name} ships more than the packages: {stray}")
    unknown = [c for c in metadata.get_all("Classifier") or [] if c not in known_classifiers]
    if unknown:
        fail(f"unknown Trove classifiers: {unknown}")
    if "[pytest11]" not in entry_points or "gateway.pytest_plugin" not in entry_points:
        fail("the pytest plugin's entry point (pytest11 channels_gateway) is missing")


def check_sdist(path: Path) -> None:
    with tarfile.open(path) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for required in ("LICENSE", "CHANGELOG.md", "README.rst", "setup.cfg", "pyproject.toml"):
        if required not in names:
            fail(f"{required} is missing from {path.name}")


def check_changelog() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    if f"## [{__version__}]" not in text:
        fail(f"CHANGELOG.md has no '## [{__version__}]' section")


def main(dist: Path) -> None:
    wheels = list(dist.glob("*.whl"))
    sdists = list(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        fail(f"expected one wheel and one sdist in {dist}, found {wheels + sdists}")
    check_wheel(wheels[0])
    check_sdist(sdists[0])
    check_changelog()
    print(f"check_dist: {wheels[0].name} and {sdists[0].name} are complete")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
