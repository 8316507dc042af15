"""Count the SQL statements a server process runs, for ``benchmarks.reconnect``.

Installed by ``benchmarks.project.ours`` when ``BENCH_QUERY_COUNT`` names a
file: every statement on every thread (the action threads included) is
counted, and the total is written to that file when the process exits.
"""

from __future__ import annotations

import atexit
import itertools
from pathlib import Path
from typing import Any


def install(path: str) -> None:
    from django.db.backends.utils import CursorWrapper

    counter = itertools.count()  # next() is atomic under the GIL
    real_execute = CursorWrapper._execute

    def counted(self: Any, sql: Any, *args: Any) -> Any:
        next(counter)
        return real_execute(self, sql, *args)

    CursorWrapper._execute = counted  # type: ignore[method-assign]

    def write() -> None:
        Path(path).write_text(str(next(counter)))  # the next value is the count so far

    atexit.register(write)
