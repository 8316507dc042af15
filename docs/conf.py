"""Sphinx configuration: the documentation site, built from the pages in docs/.

Why Sphinx (with MyST for the Markdown pages) rather than MkDocs: the
docstrings of gateway/, streams/ and hypermedia/ are reStructuredText
(``literal``, :class:`roles`), which autodoc renders as written, from the
imported objects themselves; MkDocs would need a second docstring dialect.
Every ``*.md`` page of docs/ is picked up by the glob in index.md, so a new
page needs no configuration. ``make docs`` builds it with warnings as errors.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# autodoc imports the modules, which need configured settings: the test
# suite's (SQLite in memory, the in-memory layer).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from gateway import __version__  # noqa: E402

project = "channels-gateway"
author = "channels-gateway authors"
copyright = "2026, channels-gateway authors"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "**/node_modules"]

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autosummary_generate = True
autosummary_imported_members = False
# ignore-module-all: a package's __init__ re-exports names documented in
# their own modules; listing them twice makes every reference ambiguous.
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
# Only our docstrings: inherited ones (Django's, DRF's) follow other conventions.
autodoc_inherit_docstrings = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_preserve_defaults = True

html_theme = "alabaster"
html_title = f"channels-gateway {release}"
html_static_path: list[str] = []

suppress_warnings = [
    # The JSON examples elide parts with "..." for reading; they are frames
    # to look at, not to parse.
    "misc.highlighting_failure",
]
