"""Which streams a server mounts: the same names and kinds on both stacks.

``books`` (retrieve, patch, subscribe_instance), ``authors`` (retrieve, the
target of the hypermedia links) and ``library`` (list of books) come first; for
the 10-stream memory workload the kinds repeat under numbered names.
"""

from __future__ import annotations

KINDS = ("books", "authors", "library")


def stream_layout(count: int) -> list[tuple[str, str]]:
    """Return ``[(stream_name, kind), ...]`` for ``count`` mounted streams."""
    if count < 1:
        raise ValueError(f"BENCH_STREAMS must be at least 1, got {count}")
    layout = []
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        name = kind if index < len(KINDS) else f"{kind}{index + 1}"
        layout.append((name, kind))
    return layout
