"""Payload shapes of the streams mixins' contracts: pages, snapshots, resuming, deletes.

The inspector fills an :class:`apidocs.operations.Operation` with these when
an action is a known mixin action (``list``, ``subscribe_instance``...).
"""

from __future__ import annotations

from typing import Any

from apidocs.model_fields import model_of
from apidocs.operations import Operation, StreamContext
from apidocs.schemas import component_ref, model_field_schema
from apidocs.wire import POSITION, RESUME, RESUME_RESULT


def snapshot_schema(what: str) -> dict[str, Any]:
    return {
        "type": "boolean",
        "default": False,
        "description": f"Reply with {what} as data (the subscription starts first).",
    }


def resumable(op: Operation) -> None:
    """Subscribes take ``resume`` and answer ``positions``/``resume`` (observers with history)."""
    op.parameters["resume"] = component_ref(RESUME)
    op.reply_extras["positions"] = {"type": "array", "items": component_ref(POSITION)}
    op.reply_extras["resume"] = component_ref(RESUME_RESULT)


def pk_only(context: StreamContext) -> dict[str, Any]:
    model = model_of(context.instance())
    pk = model_field_schema(model._meta.pk) if model is not None else {}
    return {"type": "object", "properties": {"pk": pk}, "required": ["pk"]}


def page_schema(listed: dict[str, Any], streamed: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "count": {"type": "integer", "minimum": 0},
        "results": listed,
        "limit": {"type": ["integer", "null"]},
        "offset": {"type": "integer", "minimum": 0},
    }
    if streamed:
        properties["last"] = {"type": "boolean", "description": "true on the final page only"}
    return {"type": "object", "properties": properties, "required": sorted(properties)}
