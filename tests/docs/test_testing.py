"""docs/TESTING.md: its examples, run by pytest in a fresh project.

The project is INSTALL.md + TUTORIAL.md + TESTING.md's own files; pytest runs
there with nothing but the installed package providing the fixtures (its
``pytest11`` entry point), and must report what the page shows.
"""

from __future__ import annotations

import pytest

from tests.docs.support import blocks, build_project, console_commands

pytestmark = pytest.mark.slow


def test_the_pages_examples_pass_in_a_fresh_project(tmp_path):
    project = build_project(tmp_path, ["INSTALL.md", "TUTORIAL.md", "TESTING.md"])
    (command, output), *_ = [
        c
        for b in blocks("TESTING.md")
        if b.lang == "console"
        for c in console_commands(b)
        if c[0].startswith("pytest")
    ]
    result = project.run(f"{command} -p no:randomly", timeout=180)
    assert output[-1] in result.stdout.splitlines()[-1], result.stdout
    documented = sum(b.body.count("\nasync def test_") for b in blocks("TESTING.md"))
    assert f"{documented} passed" == output[-1]
