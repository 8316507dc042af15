"""Client text no database can store: NUL characters and unpaired surrogates.

JSON can carry both (``"\\u0000"``, ``"\\ud800"``). PostgreSQL refuses NUL in
text ("cannot contain NUL (0x00) bytes", a 500 if it reaches a query) and
UTF-8 has no encoding for a lone surrogate, so such a value could neither be
stored nor sent back. A message holding one anywhere, in a value or in a key,
is refused before any action sees it, with a 400 that names where it is.
"""

from __future__ import annotations

import re
from typing import Any

#: NUL, or a surrogate code point: ``json.loads`` joins valid pairs into one
#: character, so any surrogate left in a decoded string is unpaired.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

UNSTORABLE_TEXT_MESSAGE = "Text may not contain NUL characters or unpaired surrogates."


def unstorable_text_path(value: Any, path: str = "") -> str | None:
    """Where in ``value`` (decoded JSON) unstorable text is, as a dotted path
    below ``path`` (``data.tags.2``; a bad key names itself); ``None`` if nowhere.

    Iterative, so a deeply nested message costs no recursion. The path is
    safe to echo: unstorable characters in keys are shown as ``\\uXXXX``.
    """
    pending: list[tuple[Any, str]] = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return _displayable(where)
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    return _displayable(child_path)
                pending.append((child, child_path))
        elif isinstance(item, list | tuple):
            pending.extend((child, f"{where}.{index}") for index, child in enumerate(item))
    return None


def _displayable(path: str) -> str:
    return _UNSTORABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", path)
