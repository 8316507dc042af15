"""apidocs.schemas: serializers as JSON Schema components, one per direction."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apidocs.schemas import SerializerSchemas, model_field_schema, to_json_schema
from tests.apidocs.support import ShowcaseBookSerializer
from tests.hypermedia.support import AuthorSerializer as HyperAuthorSerializer
from tests.hypermedia.support import BookSerializer as HyperBookSerializer
from tests.testapp.models_hypermedia import HyperBook
from tests.testapp.models_streams import StreamsBook

LINK = {"$ref": "#/components/schemas/Link"}


def component(
    serializer: Any, direction: Any = "reply"
) -> tuple[dict[str, Any], SerializerSchemas]:
    schemas = SerializerSchemas()
    ref = schemas.component(serializer, direction)
    return schemas.components[ref["$ref"].rsplit("/", 1)[1]], schemas


def test_reply_components_use_drfs_field_mapping_and_list_every_field() -> None:
    schema, schemas = component(ShowcaseBookSerializer())
    properties = schema["properties"]
    assert properties["title"] == {"type": "string", "maxLength": 100}
    assert properties["uuid"] == {"type": "string", "format": "uuid"}
    assert properties["published"] == {"type": ["string", "null"], "format": "date"}
    assert "secret" not in properties  # write-only: never in a reply
    assert schema["required"] == list(properties)
    # DRF writes null for a nested serializer whose related object is missing.
    assert properties["writer"] == {
        "anyOf": [{"$ref": "#/components/schemas/Author"}, {"type": "null"}]
    }
    assert schemas.components["Author"]["properties"]["name"]["type"] == "string"
    assert schema["description"] == "A book, with its author nested."


def test_request_components_drop_read_only_fields_and_keep_required_ones() -> None:
    schema, schemas = component(ShowcaseBookSerializer(), "request")
    properties = schema["properties"]
    assert "uuid" not in properties and "id" not in properties and "writer" not in properties
    assert properties["secret"] == {"type": "string"}
    assert schema["required"] == ["title", "slug"]
    # The nested read-only serializer is not described for requests at all.
    assert set(schemas.components) == {"ShowcaseBookRequest"}


def test_patch_components_require_nothing() -> None:
    schema, _ = component(ShowcaseBookSerializer(), "patch")
    assert "required" not in schema
    assert "title" in schema["properties"]


class KindSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["novel", "essay"], required=False, allow_null=True)


def test_nullable_becomes_a_null_type_with_null_among_the_choices() -> None:
    schema, _ = component(KindSerializer())
    assert schema["properties"]["kind"] == {
        "enum": ["novel", "essay", None],
        "type": ["string", "null"],
    }
    assert to_json_schema({"$ref": "#/x", "nullable": True}) == {
        "anyOf": [{"$ref": "#/x"}, {"type": "null"}]
    }
    assert to_json_schema({"type": ["integer", "null"], "nullable": True}) == {
        "type": ["integer", "null"]
    }
    nested = to_json_schema({"type": "array", "items": {"type": "integer", "nullable": True}})
    assert nested == {"type": "array", "items": {"type": ["integer", "null"]}}


def test_hypermedia_fields_are_links_out_and_pk_or_link_in() -> None:
    schema, _ = component(HyperBookSerializer())
    properties = schema["properties"]
    assert properties["@id"] == LINK
    assert properties["tags"] == LINK  # one list link for the whole relation
    request, _ = component(HyperBookSerializer(), "request")
    pk_or_link = {"oneOf": [{"type": "integer"}, LINK]}
    assert request["properties"]["author"] == {"anyOf": [pk_or_link, {"type": "null"}]}
    assert request["properties"]["tags"] == {"type": "array", "items": pk_or_link}
    assert "@id" not in request["properties"]


def test_a_nullable_link_is_a_link_or_null() -> None:
    schema, _ = component(HyperBookSerializer())
    assert schema["properties"]["author"] == {"anyOf": [LINK, {"type": "null"}]}
    assert schema["properties"]["publisher"] == {"anyOf": [LINK, {"type": "null"}]}


def test_one_component_per_serializer_and_direction_and_unique_names() -> None:
    schemas = SerializerSchemas()
    first = schemas.component(HyperAuthorSerializer(), "reply")
    assert schemas.component(HyperAuthorSerializer(), "reply") == first

    class AuthorSerializer(serializers.Serializer):  # same name, another class
        name = serializers.CharField()

    other = schemas.component(AuthorSerializer(), "reply")
    assert other != first
    assert other["$ref"].endswith(".Author")
    assert len(schemas.components) == 2


def test_a_serializer_nesting_itself_refers_to_its_own_component() -> None:
    class NodeSerializer(serializers.Serializer):
        name = serializers.CharField()

        def get_fields(self) -> dict[str, Any]:
            fields = super().get_fields()
            if self.context.get("depth", 0) < 1:
                fields["children"] = NodeSerializer(many=True, context={"depth": 1})
            return fields

    schema, _ = component(NodeSerializer())
    assert schema["properties"]["children"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Node"},
    }


def test_model_field_schema_follows_foreign_keys_to_the_target_type() -> None:
    assert model_field_schema(StreamsBook._meta.get_field("author")) == {"type": "integer"}
    assert model_field_schema(StreamsBook._meta.get_field("uuid")) == {
        "type": "string",
        "format": "uuid",
    }
    assert model_field_schema(StreamsBook._meta.get_field("published")) == {
        "type": "string",
        "format": "date",
    }
    assert model_field_schema(HyperBook._meta.get_field("published")) == {"type": "boolean"}
    assert model_field_schema(StreamsBook._meta.get_field("title")) == {"type": "string"}
