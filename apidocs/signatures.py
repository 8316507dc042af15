"""An action method read as documentation: its docstring and its signature's parameters.

Custom actions have no mixin contract, so their payload is described from the
method itself: annotations become JSON schemas (``int`` -> integer,
``int | None`` -> ``["integer", "null"]``), JSON-able defaults are shown, and
anything unknown is "any JSON" rather than a guess.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any

from streams.registry import RegisteredAction

#: Keys every request may carry besides the action's own.
FRAME_KEYS = frozenset({"action", "request_id"})


def docstring_parts(obj: Any) -> tuple[str, str]:
    """``(summary, description)`` from ``obj``'s docstring."""
    doc = inspect.getdoc(obj) or ""
    if not doc:
        return "", ""
    first, _, rest = doc.partition("\n\n")
    return " ".join(first.split()), rest.strip()


def action_signature(method: Any, entry: RegisteredAction) -> inspect.Signature:
    """The action's signature with string annotations evaluated, when they can be."""
    func = getattr(method, "__func__", method)
    if func is None:
        return entry.signature
    try:
        return inspect.signature(func, eval_str=True)
    except Exception:  # an annotation naming what only type checkers import
        return entry.signature


ANNOTATIONS: dict[Any, dict[str, Any]] = {
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    bool: {"type": "boolean"},
    dict: {"type": "object"},
    list: {"type": "array"},
    type(None): {"type": "null"},
}


def annotation_schema(annotation: Any) -> dict[str, Any]:
    """A schema for a parameter annotation; ``{}`` (any JSON) when unknown."""
    if isinstance(annotation, str):
        annotation = {"int": int, "float": float, "str": str, "bool": bool}.get(annotation)
    if annotation in ANNOTATIONS:
        return dict(ANNOTATIONS[annotation])
    origin = typing.get_origin(annotation)
    if origin in (dict, list):
        return dict(ANNOTATIONS[origin])
    if origin in (typing.Union, types.UnionType):
        options = [annotation_schema(arg) for arg in typing.get_args(annotation)]
        if all(set(option) == {"type"} and isinstance(option["type"], str) for option in options):
            return {"type": [option["type"] for option in options]}
    return {}


def is_json(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
