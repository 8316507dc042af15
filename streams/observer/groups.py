"""Channel-layer group names for observers.

Channels allows group names of fewer than 100 characters from
``[A-Za-z0-9._-]``. Observer groups are built from an observer's id and a
suffix its hooks produce, and suffixes often hold client values (a filter, a
pk a client sent). So the whole name is hashed: any suffix gives a valid name
of fixed length, and two different suffixes (two different filters) never
give the same group.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

#: Every observer group starts with this, so they are easy to tell apart in Redis.
GROUP_PREFIX = "streams.obs."


def canonical(value: Any) -> str:
    """A stable text form of ``value`` for hashing: JSON with sorted keys.

    Values JSON cannot encode (a model instance, a UUID) fall back to ``str``,
    which is what a hook writing ``f"-pk__{instance.pk}"`` would produce too.
    """
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def group_name(observer_id: str, suffix: Any) -> str:
    """The channel-layer group for ``suffix`` of observer ``observer_id`` (76 characters)."""
    digest = hashlib.sha256(f"{observer_id}\x00{canonical(suffix)}".encode()).hexdigest()
    return f"{GROUP_PREFIX}{digest}"


def request_id_key(request_id: Any) -> str:
    """A hashable key for a request_id, which may be any bounded JSON value (even a dict)."""
    return json.dumps(request_id, sort_keys=True, separators=(",", ":"), default=str)
