"""README.rst's first screen shows INSTALL.md's snippets, verbatim.

INSTALL.md's blocks are run in a fresh project (test_install.py); the README
copies must not drift from them. (``make dist`` checks that it renders on PyPI.)
"""

from __future__ import annotations

import re

from tests.docs.support import REPO, python_block

RST_BLOCK = re.compile(r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", re.MULTILINE)


def readme_blocks() -> dict[str, str]:
    found = {}
    for match in RST_BLOCK.finditer((REPO / "README.rst").read_text()):
        body = "\n".join(line[4:] for line in match.group(1).rstrip("\n").split("\n")) + "\n"
        found[body.split("\n", 1)[0]] = body
    return found


def test_the_readme_install_snippets_are_the_tested_ones():
    blocks = readme_blocks()
    for path in ("mysite/settings.py (add at the end)", "mysite/asgi.py", "mysite/gateway.py"):
        assert blocks[f"# {path}"] == python_block("INSTALL.md", f"# {path}"), path


def test_the_readme_asgi_sets_django_up_before_importing_the_gateway():
    asgi = readme_blocks()["# mysite/asgi.py"]
    assert asgi.index("get_asgi_application()") < asgi.index("from mysite.gateway import")
