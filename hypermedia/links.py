"""The link: ``{"stream": S, "payload": {"action": A, **lookups}}``.

A link is the frame a client sends to get the resource, minus its
``request_id``: sending it back down the socket (see :func:`hypermedia.follow`)
retrieves the object, or lists the related objects. These helpers build links
and read the values that go into their payloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.fields import get_attribute

__all__ = ["SELF_PREFIX", "Link", "make_link", "read_path", "split_path"]

#: A ``kwarg_mappings`` path starting with this reads from the object whose
#: serializer holds the field, rather than from the related object.
SELF_PREFIX = "self"

Link = dict[str, Any]


def make_link(stream: str, action: str, lookups: Mapping[str, Any]) -> Link:
    payload: dict[str, Any] = {"action": action}
    payload.update(lookups)
    return {"stream": stream, "payload": payload}


def split_path(path: str) -> tuple[bool, list[str]]:
    """``"self.author.pk"`` -> ``(True, ["author", "pk"])``; ``"pk"`` -> ``(False, ["pk"])``.

    ``__`` separates steps too, so a consumer's ``lookup_field`` written as an
    ORM path (``"author__slug"``) reads the same value it filters on.
    """
    if not isinstance(path, str) or not path:
        raise TypeError(f"kwarg_mappings values must be non-empty strings, got {path!r}")
    steps = [step for part in path.split(".") for step in part.split("__")]
    if steps[0] == SELF_PREFIX:
        return True, steps[1:]
    return False, steps


def read_path(obj: Any, steps: list[str]) -> Any:
    """Follow ``steps`` from ``obj`` (attributes or mapping keys, as DRF's ``source``).

    A step that meets ``None`` gives ``None`` instead of raising, so a link
    through an empty optional relation carries ``null``.
    """
    for step in steps:
        if obj is None:
            return None
        obj = get_attribute(obj, [step])
    return obj
