"""The consumer's model, read for documentation: lookup fields and filter keys.

Nothing here queries the database: the model comes from ``queryset`` (or a
lazy ``get_queryset()``), fields from its ``_meta``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model

from apidocs.schemas import model_field_schema
from streams.filters import FieldFilterBackend

#: Any JSON scalar: what a filter value is when its model field is unknown.
SCALAR: dict[str, Any] = {"type": ["string", "number", "boolean"]}

LIST_LOOKUPS = frozenset({"in", "range"})


def model_of(consumer: Any) -> type[Model] | None:
    """The model of the consumer's ``queryset``, else of ``get_queryset()`` (lazy: no query)."""
    queryset = getattr(consumer, "queryset", None)
    if queryset is None and callable(getattr(consumer, "get_queryset", None)):
        try:
            queryset = consumer.get_queryset()
        except Exception:  # a hook that needs a real user or message
            queryset = None
    model = getattr(queryset, "model", None)
    return model if isinstance(model, type) else None


def field_at_path(model: type[Model], path: str) -> Any:
    """The model field at ``path`` (``author__name``), or ``None``."""
    field_: Any = None
    current: Any = model
    for step in path.split("__"):
        if current is None:
            return None
        try:
            field_ = current._meta.pk if step == "pk" else current._meta.get_field(step)
        except Exception:
            return None
        current = getattr(field_, "related_model", None)
    return field_


def field_filter_parameters(backend: FieldFilterBackend, consumer: Any) -> dict[str, Any]:
    model = model_of(consumer)
    parameters: dict[str, Any] = {}
    for path, lookups in backend.get_filter_fields(consumer).items():
        model_field = field_at_path(model, path) if model is not None else None
        value = model_field_schema(model_field) if model_field is not None else dict(SCALAR)
        for lookup in lookups:
            key = path if lookup == "exact" else f"{path}__{lookup}"
            if lookup in LIST_LOOKUPS:
                schema: dict[str, Any] = {"type": "array", "items": value}
                if lookup == "range":
                    schema.update(minItems=2, maxItems=2)
            elif lookup == "isnull":
                schema = {"type": "boolean"}
            elif lookup in (
                "contains",
                "icontains",
                "startswith",
                "istartswith",
                "endswith",
                "iendswith",
                "iexact",
                "regex",
                "iregex",
            ):
                schema = {"type": "string"}
            else:
                schema = dict(value)
            schema["description"] = f"Filter: {path} {lookup}."
            parameters[key] = schema
    return parameters
