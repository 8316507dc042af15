#!/usr/bin/env python
"""Django's command-line utility for the channels-gateway demo project."""

import os
import sys
from pathlib import Path


def main() -> None:
    # `make demo` runs this file from the repository root; the project's
    # packages (demo_project, library) live next to it.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
