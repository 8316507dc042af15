"""``HypermediaModelSerializer``: a ModelSerializer whose relations are links to streams.

::

    class BookSerializer(HypermediaModelSerializer):
        class Meta:
            model = Book
            fields = ["@id", "title", "author", "tags"]

serializes a book as::

    {"@id": {"stream": "books", "payload": {"action": "retrieve", "pk": 7}},
     "title": "Dune",
     "author": {"stream": "authors", "payload": {"action": "retrieve", "pk": 3}},
     "tags": {"stream": "tags", "payload": {"action": "list", "books": 7}}}

and, with ``many=True``, a list of books as a list of their links (options in
``Meta.many_stream_name``, ``many_action_name``, ``many_kwarg_mappings``).
Streams come from the route table of the connection being served (the
serializer context's ``scope``), see :mod:`hypermedia.resolver`.

``HyperChannelsApiModelSerializer`` (and the other hypermediachannels names)
are the same classes, for code migrating from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models
from rest_framework.serializers import (
    LIST_SERIALIZER_KWARGS,
    LIST_SERIALIZER_KWARGS_REMOVE,
    ListSerializer,
    ModelSerializer,
)
from rest_framework.utils.model_meta import FieldInfo, RelationInfo

from hypermedia.fields import (
    HyperChannelsApiRelationField,
    HyperlinkedIdentityField,
    LinkOptionsMixin,
    _unwrap,
    _WithParent,
)
from hypermedia.links import Link

__all__ = [
    "HyperChannelsApiListSerializer",
    "HyperChannelsApiModelSerializer",
    "HyperlinkedIdentityField",
    "HypermediaListSerializer",
    "HypermediaModelSerializer",
]


class HypermediaListSerializer(LinkOptionsMixin, ListSerializer):
    """``many=True``: every object as its link, not its fields.

    Options come from the child serializer's ``Meta``: ``many_stream_name``,
    ``many_action_name`` (default ``retrieve``) and ``many_kwarg_mappings``
    (paths read from each object; ``self.`` reads from the object whose
    serializer holds this list, when it is a nested field).
    """

    def _meta_option(self, name: str, default: Any) -> Any:
        meta = getattr(self.child, "Meta", None)
        return getattr(meta, name, default)

    @property
    def stream_name(self) -> str | None:  # type: ignore[override]
        return self._meta_option("many_stream_name", None)

    @property
    def action_name(self) -> str:  # type: ignore[override]
        return self._meta_option("many_action_name", "retrieve")

    @property
    def kwarg_mappings(self) -> dict[str, str] | None:  # type: ignore[override]
        mappings = self._meta_option("many_kwarg_mappings", None)
        return dict(mappings) if mappings is not None else None

    def get_attribute(self, instance: Any) -> Any:
        value = super().get_attribute(instance)
        return None if value is None else _WithParent(value, instance)

    def to_representation(self, data: Any) -> list[Link | None]:
        data, parent = _unwrap(data)
        items = data.all() if isinstance(data, models.Manager) else data
        return [self.build_link(item, parent, type(item)) for item in items]


#: hypermediachannels' name.
HyperChannelsApiListSerializer = HypermediaListSerializer


class HypermediaModelSerializer(ModelSerializer):
    """A ``ModelSerializer`` with ``@id`` and relations as stream links.

    ``fields = "__all__"`` gives ``@id`` (instead of the pk), the model's
    fields and its forward relations. Per-field link options go in
    ``Meta.extra_kwargs`` (``{"author": {"stream_name": "writers"}}``, also
    for ``"@id"``) or on declared fields.
    """

    url_field_name = "@id"
    serializer_related_field = HyperChannelsApiRelationField
    serializer_related_to_field = HyperChannelsApiRelationField
    serializer_url_field = HyperlinkedIdentityField

    @classmethod
    def many_init(cls, *args: Any, **kwargs: Any) -> ListSerializer:
        """As DRF's, with :class:`HypermediaListSerializer` as the default list class."""
        list_kwargs: dict[str, Any] = {}
        for key in LIST_SERIALIZER_KWARGS_REMOVE:
            value = kwargs.pop(key, None)
            if value is not None:
                list_kwargs[key] = value
        list_kwargs["child"] = cls(*args, **kwargs)
        list_kwargs.update({k: v for k, v in kwargs.items() if k in LIST_SERIALIZER_KWARGS})
        meta = getattr(cls, "Meta", None)
        list_class = getattr(meta, "list_serializer_class", None) or HypermediaListSerializer
        return list_class(*args, **list_kwargs)

    def get_default_field_names(
        self, declared_fields: Mapping[str, Any], model_info: FieldInfo
    ) -> list[str]:
        return [
            self.url_field_name,
            *declared_fields,
            *model_info.fields,
            *model_info.forward_relations,
        ]

    def build_url_field(
        self, field_name: str, model_class: type[models.Model]
    ) -> tuple[type[Any], dict[str, Any]]:
        return self.serializer_url_field, {}

    def build_relational_field(
        self, field_name: str, relation_info: RelationInfo
    ) -> tuple[type[Any], dict[str, Any]]:
        field_class, field_kwargs = super().build_relational_field(field_name, relation_info)
        # DRF switches foreign keys with a non-pk ``to_field`` to a slug field;
        # links carry the target stream's lookup instead.
        field_kwargs.pop("slug_field", None)
        if field_class is self.serializer_related_to_field:
            field_class = self.serializer_related_field
        return field_class, field_kwargs

    def build_nested_field(
        self, field_name: str, relation_info: RelationInfo, nested_depth: int
    ) -> tuple[type[Any], dict[str, Any]]:
        """``Meta.depth``: nested objects are hypermedia too (with their own ``@id``)."""
        related_model = relation_info.related_model

        class NestedSerializer(HypermediaModelSerializer):
            class Meta:
                model = related_model
                depth = nested_depth - 1
                fields = "__all__"

        field_kwargs: dict[str, Any] = {"read_only": True}
        if relation_info.to_many:
            field_kwargs["many"] = True
        return NestedSerializer, field_kwargs


#: hypermediachannels' name.
HyperChannelsApiModelSerializer = HypermediaModelSerializer
