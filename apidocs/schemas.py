"""Serializer -> JSON Schema, through DRF's own mapping.

DRF's ``rest_framework.schemas.openapi.AutoSchema`` already knows how every
DRF field maps to a schema (types, formats, choices, min/max, validators,
nested serializers). :class:`SerializerSchemas` reuses its ``map_serializer``
and ``map_field`` instead of keeping a second table, and adds only what DRF
cannot know:

- hypermedia fields (:mod:`hypermedia.fields`) are links on output, and a pk
  or a link on input;
- one component per serializer *and direction*: ``Book`` (what replies
  carry; write-only fields left out), ``BookRequest`` (what ``create`` and
  ``update`` take; read-only fields left out) and ``PatchedBookRequest``
  (``patch``: nothing required);
- DRF writes OpenAPI 3.0 schemas (``nullable: true``); AsyncAPI payloads are
  JSON Schema draft 7, so ``nullable`` becomes a ``"null"`` type.

One instance serves one document build: it collects the components it made,
so a serializer used by several streams is described once.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Literal

from django.db import models
from rest_framework import serializers
from rest_framework.relations import RelatedField
from rest_framework.schemas.openapi import AutoSchema

from hypermedia.fields import (
    HyperChannelsApiManyRelationField,
    HyperChannelsApiRelationField,
    HyperlinkedIdentityField,
)

__all__ = [
    "LINK_SCHEMA_NAME",
    "Direction",
    "SerializerSchemas",
    "component_ref",
    "model_field_schema",
    "to_json_schema",
]

Direction = Literal["reply", "request", "patch"]

#: Name of the hypermedia link schema in ``components.schemas``.
LINK_SCHEMA_NAME = "Link"

_COMPONENT_NAME = re.compile(r"[^A-Za-z0-9_.\-]")


def component_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def to_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI 3.0 schema (DRF's output) as JSON Schema draft 7, recursively.

    Only ``nullable`` differs in what DRF emits: it becomes ``"null"`` among the
    types (or ``anyOf`` with ``{"type": "null"}`` when there is no single type).
    """
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            result[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key == "items" and isinstance(value, dict):
            result[key] = to_json_schema(value)
        elif key in ("oneOf", "anyOf", "allOf") and isinstance(value, list):
            result[key] = [to_json_schema(sub) for sub in value]
        elif key != "nullable":
            result[key] = value
    if schema.get("nullable"):
        result = _allow_null(result)
    return result


def _allow_null(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        schema = {**schema, "type": [kind, "null"]}
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return schema
    if isinstance(kind, list):
        return schema if "null" in kind else {**schema, "type": [*kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


class _FieldMapper(AutoSchema):
    """DRF's AutoSchema field mapping, plus hypermedia fields, for one direction."""

    def __init__(self, owner: SerializerSchemas, direction: Direction) -> None:
        super().__init__()
        self.owner = owner
        self.direction = direction

    def map_field(self, field: Any) -> dict[str, Any]:
        if field.read_only if self.direction != "reply" else field.write_only:
            # Left out of this direction's component (see map_serializer);
            # not mapping it keeps nested components of the other one out.
            return {"readOnly": True} if field.read_only else {"writeOnly": True}
        if isinstance(field, HyperChannelsApiManyRelationField):
            if self.direction == "reply":
                # One "list" link for the whole relation, not a list of links.
                return component_ref(LINK_SCHEMA_NAME)
            return {"type": "array", "items": self.owner.link_or_pk(field.child_relation)}
        if isinstance(field, HyperlinkedIdentityField):
            return component_ref(LINK_SCHEMA_NAME)
        if isinstance(field, HyperChannelsApiRelationField):
            if self.direction == "reply":
                return component_ref(LINK_SCHEMA_NAME)
            return self.owner.link_or_pk(field)
        if isinstance(field, serializers.ListSerializer | serializers.Serializer):
            # Nested serializers are components of their own, so a reply and
            # a request that share one show the same name.
            child = field.child if isinstance(field, serializers.ListSerializer) else field
            ref = self.owner.component(child, self.direction)
            if isinstance(field, serializers.ListSerializer):
                return {"type": "array", "items": ref}
            return ref
        mapped: dict[str, Any] = super().map_field(field)
        return mapped

    def map_serializer(self, serializer: Any) -> dict[str, Any]:
        mapped: dict[str, Any] = super().map_serializer(serializer)
        properties: dict[str, Any] = mapped.get("properties", {})
        drop = "readOnly" if self.direction != "reply" else "writeOnly"
        for name in [name for name, schema in properties.items() if schema.get(drop)]:
            del properties[name]
        if self.direction == "reply":
            for field in serializer.fields.values():
                schema = properties.get(self.get_field_name(field))
                if schema is not None and _null_on_output(field):
                    schema["nullable"] = True
        for name, schema in properties.items():
            schema.pop("readOnly", None)
            schema.pop("writeOnly", None)
            if "$ref" in schema and len(schema) > 1:
                # JSON Schema draft 7 ignores the siblings of a $ref: wrap it.
                ref = {"$ref": schema.pop("$ref")}
                if schema.pop("nullable", False):
                    properties[name] = {"anyOf": [ref, {"type": "null"}], **schema}
                else:
                    properties[name] = {"allOf": [ref], **schema} if schema else ref
        required = [name for name in mapped.get("required", []) if name in properties]
        if self.direction == "reply":
            # Output carries every field it declares, required or not on input.
            required = list(properties)
        if self.direction == "patch" or not required:
            mapped.pop("required", None)
        else:
            mapped["required"] = required
        return to_json_schema(mapped)


def _null_on_output(field: Any) -> bool:
    """Does DRF write ``null`` for this field when the object has no value?

    DRF's ``Serializer.to_representation`` writes ``None`` for a missing
    related object without asking the field, whatever ``allow_null`` says: a
    nested serializer or relation whose ``source`` is an empty foreign key
    comes out as ``null``.
    """
    if isinstance(field, serializers.ListSerializer | serializers.ManyRelatedField):
        return False
    return isinstance(field, serializers.Serializer | RelatedField) and field.source != "*"


class SerializerSchemas:
    """Components for the serializers of one document, by serializer and direction."""

    def __init__(self) -> None:
        #: ``components.schemas`` as built so far (name -> schema).
        self.components: dict[str, dict[str, Any]] = {}
        # (serializer class, direction) -> component name
        self._names: dict[tuple[type, Direction], str] = {}

    def component(self, serializer: Any, direction: Direction) -> dict[str, str]:
        """A ``$ref`` to the component describing ``serializer`` (an instance) one way."""
        key = (type(serializer), direction)
        name = self._names.get(key)
        if name is None:
            # Named before it is built: a serializer nesting itself gets a $ref.
            name = self._names[key] = self._new_name(type(serializer), direction)
            schema = _FieldMapper(self, direction).map_serializer(serializer)
            doc = _first_paragraph(type(serializer).__doc__)
            if doc:
                schema = {"description": doc, **schema}
            self.components[name] = schema
        return component_ref(name)

    def link_or_pk(self, field: Any) -> dict[str, Any]:
        """Input of a hypermedia relation: the related object's pk, or a link to it."""
        pk_schema: dict[str, Any] = {"type": ["integer", "string"]}
        queryset = getattr(field, "queryset", None)
        model = getattr(queryset, "model", None)
        if model is not None:
            pk_schema = model_field_schema(model._meta.pk)
        return {"oneOf": [pk_schema, component_ref(LINK_SCHEMA_NAME)]}

    def _new_name(self, serializer_class: type, direction: Direction) -> str:
        base = serializer_class.__name__
        if base.endswith("Serializer") and base != "Serializer":
            base = base[: -len("Serializer")]
        base = _COMPONENT_NAME.sub("_", base) or "Object"
        name = {"reply": base, "request": f"{base}Request", "patch": f"Patched{base}Request"}[
            direction
        ]
        taken = set(self.components) | set(self._names.values())
        if name not in taken:
            return name
        # Same class name in another module: qualify with the module.
        module = _COMPONENT_NAME.sub("_", serializer_class.__module__)
        candidate = f"{module}.{name}"
        counter = 2
        while candidate in taken:
            candidate = f"{module}.{name}{counter}"
            counter += 1
        return candidate


def _first_paragraph(doc: str | None) -> str:
    if not doc:
        return ""
    return inspect.cleandoc(doc).split("\n\n", 1)[0].strip()


def model_field_schema(model_field: Any) -> dict[str, Any]:
    """A JSON type for a model field's values (lookups, filters, pks)."""
    target = model_field
    # A foreign key holds the related model's pk (or to_field).
    while isinstance(target, models.ForeignKey | models.OneToOneField):
        target = target.target_field
    if isinstance(target, models.ManyToManyField | models.ForeignObjectRel):
        related = target.related_model
        target = related._meta.pk if related is not None else None
    if isinstance(target, models.BooleanField):
        return {"type": "boolean"}
    if isinstance(target, models.AutoField | models.IntegerField):
        return {"type": "integer"}
    if isinstance(target, models.FloatField):
        return {"type": "number"}
    if isinstance(target, models.DecimalField):
        return {"type": ["string", "number"]}
    if isinstance(target, models.UUIDField):
        return {"type": "string", "format": "uuid"}
    if isinstance(target, models.DateTimeField):
        return {"type": "string", "format": "date-time"}
    if isinstance(target, models.DateField):
        return {"type": "string", "format": "date"}
    return {"type": "string"}
