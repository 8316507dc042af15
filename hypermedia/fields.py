"""Relation fields whose values are links to streams.

Names follow hypermediachannels (``HyperChannelsApiRelationField``,
``HyperChannelsApiManyRelationField``, ``HyperlinkedIdentityField``,
``HyperChannelsApiMixin``) so code written for it migrates by changing the
import prefix.

- :class:`HyperChannelsApiRelationField`: a to-one relation as a ``retrieve``
  link. Input: a pk or a link (resolved by the target stream, see
  :mod:`hypermedia.inbound`).
- :class:`HyperChannelsApiManyRelationField` (``many=True``): a to-many
  relation as ONE ``list`` link whose lookups make the target stream list
  exactly the related objects (``{"action": "list", "author": 3}``). Input: a
  list of pks or links.
- :class:`HyperlinkedIdentityField`: the object's own link (``@id``).

Every field takes ``stream_name``, ``action_name`` and ``kwarg_mappings``
(``{payload key: path}``; a path is read from the related object, or from the
object being serialized when it starts with ``self.``; steps are separated by
``.``). Without them the stream is the one serving the related model on this
connection's route table and the lookup is that stream's own
(``lookup_url_kwarg``/``lookup_field``, ``pk`` by default).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from rest_framework.exceptions import ValidationError
from rest_framework.fields import get_attribute as drf_get_attribute
from rest_framework.relations import (
    MANY_RELATION_KWARGS,
    ManyRelatedField,
    PKOnlyObject,
    RelatedField,
)

from hypermedia.inbound import MALFORMED_MESSAGE, is_pk_value, resolve_link, resolve_pk
from hypermedia.links import Link, make_link, read_path, split_path
from hypermedia.planning import PlanStep, column_link_step, identity_link_step, many_link_step
from hypermedia.resolver import StreamResolver, StreamTarget, resolver_for_scope

__all__ = [
    "HyperChannelsApiManyRelationField",
    "HyperChannelsApiMixin",
    "HyperChannelsApiRelationField",
    "HyperlinkedIdentityField",
    "LinkOptionsMixin",
]

logger = logging.getLogger(__name__)

#: Keyword arguments every link field takes (and passes on under ``many=True``).
LINK_KWARGS = ("stream_name", "action_name", "kwarg_mappings")

# Attribute of the root serializer caching the resolver for one serialization.
_RESOLVER_ATTR = "_hypermedia_resolver"


class _WithParent:
    """A field's value together with the object being serialized (for ``self.`` paths)."""

    __slots__ = ("parent", "value")

    def __init__(self, value: Any, parent: Any) -> None:
        self.value = value
        self.parent = parent


def _unwrap(value: Any) -> tuple[Any, Any]:
    if isinstance(value, _WithParent):
        return value.value, value.parent
    return value, None


def _check_mappings(owner: str, mappings: Any) -> dict[str, str] | None:
    if mappings is None:
        return None
    if not isinstance(mappings, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in mappings.items()
    ):
        raise TypeError(
            f"{owner}: kwarg_mappings must map payload keys to paths, e.g. "
            f"{{'pk': 'pk', 'author': 'self.author_id'}}; got {mappings!r}."
        )
    return dict(mappings)


class LinkOptionsMixin:
    """What every link builder shares: the route table, stream choice, lookups.

    Subclasses provide ``stream_name``, ``action_name`` and ``kwarg_mappings``
    (as attributes or properties) and are DRF fields, so ``root``,
    ``context`` and ``field_name`` exist.
    """

    stream_name: str | None
    action_name: str
    kwarg_mappings: dict[str, str] | None

    # ---------------------------------------------------------------- names
    def describe(self) -> str:
        """``BookSerializer.author``: where a configuration error comes from."""
        root = getattr(self, "root", self)
        name = getattr(self, "field_name", None)
        root_name = type(root).__name__
        child = getattr(root, "child", None)
        if child is not None:
            root_name = type(child).__name__
        return f"{root_name}.{name}" if name else root_name

    # -------------------------------------------------------------- resolve
    def get_resolver(self) -> StreamResolver:
        """The route table's resolver, looked up once per serialization."""
        root: Any = getattr(self, "root", self)
        resolver = root.__dict__.get(_RESOLVER_ATTR)
        if resolver is None:
            context = getattr(self, "context", None) or {}
            resolver = resolver_for_scope(context.get("scope"), owner=self.describe())
            root.__dict__[_RESOLVER_ATTR] = resolver
        return resolver

    def get_scope(self) -> Mapping[str, Any]:
        context = getattr(self, "context", None) or {}
        scope = context.get("scope")
        return scope if isinstance(scope, Mapping) else {}

    def resolve_target(self, model: type[models.Model] | None) -> StreamTarget | None:
        """The stream links of this field point at, or ``None`` (a null link)."""
        resolver = self.get_resolver()
        if self.stream_name is not None:
            target = resolver.stream(self.stream_name)
            if target is None:
                resolver.warn_once(
                    ("stream", self.describe(), self.stream_name),
                    "%s links to stream %r, which this route table does not serve; "
                    "its links are null here.",
                    self.describe(),
                    self.stream_name,
                )
            return target
        if model is None:
            return None
        return resolver.for_model(model)

    def default_mappings(self, target: StreamTarget) -> dict[str, str]:
        return {target.lookup_kwarg: target.lookup_field}

    def read_lookup(self, obj: Any, parent: Any, path: str) -> Any:
        from_parent, steps = split_path(path)
        if from_parent:
            if parent is None:
                raise ImproperlyConfigured(
                    f"{self.describe()}: kwarg_mappings path {path!r} reads from the object "
                    "being serialized ('self.'), but there is none here (a top-level "
                    "list). Drop the 'self.' prefix."
                )
            return read_path(parent, steps)
        if isinstance(obj, PKOnlyObject):
            # DRF's stand-in holding the key column's value, only ever given
            # when every such path names that value (see
            # HyperChannelsApiRelationField.use_pk_only_optimization).
            return obj.pk
        return read_path(obj, steps)

    def build_link(self, obj: Any, parent: Any, model: type[models.Model] | None) -> Link | None:
        """The link for the related object ``obj`` of ``parent``, or ``None``."""
        target = self.resolve_target(model)
        if target is None:
            return None
        mappings = self.kwarg_mappings
        if mappings is None:
            mappings = self.default_mappings(target)
        lookups = {key: self.read_lookup(obj, parent, path) for key, path in mappings.items()}
        return make_link(target.name, self.action_name, lookups)


class HyperChannelsApiMixin(LinkOptionsMixin):
    """Link options given per field: ``stream_name``, ``action_name``, ``kwarg_mappings``."""

    action_name: str = "retrieve"
    stream_name: str | None = None
    #: ``None``: the target stream's own lookup (``{"pk": "pk"}`` by default).
    kwarg_mappings: dict[str, str] | None = None

    def __init__(self, action_name: str | None = None, **kwargs: Any) -> None:
        kwarg_mappings = kwargs.pop("kwarg_mappings", None)
        stream_name = kwargs.pop("stream_name", None)
        super().__init__(**kwargs)
        owner = type(self).__name__
        if action_name is not None:
            if not isinstance(action_name, str) or not action_name:
                raise TypeError(f"{owner}: action_name must be a non-empty string.")
            self.action_name = action_name
        if stream_name is not None:
            if not isinstance(stream_name, str) or not stream_name:
                raise TypeError(f"{owner}: stream_name must be a non-empty string.")
            self.stream_name = stream_name
        if kwarg_mappings is not None:
            self.kwarg_mappings = _check_mappings(owner, kwarg_mappings)


def _walk_relations(
    model: type[models.Model] | None, steps: list[str]
) -> tuple[type[models.Model] | None, Any]:
    """Follow ``steps`` (accessor names) through model relations.

    Returns ``(model owning the last step, its field or reverse relation)``,
    or ``(None, None)`` when a step is not a relation of the models.
    """
    if model is None or not steps:
        return None, None
    for index, step in enumerate(steps):
        relation = _relation_named(model, step)
        if relation is None:
            return None, None
        if index == len(steps) - 1:
            return model, relation
        model = relation.related_model
        if not (isinstance(model, type) and issubclass(model, models.Model)):
            return None, None
    return None, None


def _relation_named(model: type[models.Model], name: str) -> Any:
    """The forward field called ``name``, or the reverse relation accessed as ``name``."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        field = None
    if field is not None and field.is_relation and (field.concrete or not field.auto_created):
        # A forward relation (including the parent link of multi-table inheritance).
        return field
    for related in model._meta.get_fields():
        if not (related.auto_created and not related.concrete and related.is_relation):
            continue
        if related.get_accessor_name() == name:  # type: ignore[union-attr]
            return related
    return None


def _serializer_model(field: Any) -> type[models.Model] | None:
    meta = getattr(getattr(field, "parent", None), "Meta", None)
    model = getattr(meta, "model", None)
    return model if isinstance(model, type) and issubclass(model, models.Model) else None


class HyperChannelsApiRelationField(HyperChannelsApiMixin, RelatedField):
    """A to-one relation as a link; accepts a pk or a link as input.

    A forward foreign key (or one-to-one) is linked from its column alone (no
    query per object) whenever the target stream looks objects up by the field
    the key points at (the pk, or its ``to_field``) and every
    ``kwarg_mappings`` path is that field or starts with ``self.``.
    """

    @classmethod
    def many_init(cls, *args: Any, **kwargs: Any) -> HyperChannelsApiManyRelationField:
        list_kwargs: dict[str, Any] = {"child_relation": cls(*args, **kwargs)}
        for key, value in kwargs.items():
            if key in MANY_RELATION_KWARGS or key in LINK_KWARGS:
                list_kwargs[key] = value
        return HyperChannelsApiManyRelationField(**list_kwargs)

    # ---------------------------------------------------------------- output
    def forward_key(self) -> Any:
        """The forward foreign key (or one-to-one) this field reads, else ``None``."""
        cached = self.__dict__.get("_forward_key", False)
        if cached is not False:
            return cached
        _, relation = _walk_relations(_serializer_model(self), list(self.source_attrs))
        key = None
        if (
            relation is not None
            and relation.concrete
            and (relation.many_to_one or relation.one_to_one)
            and getattr(relation, "target_field", None) is not None
        ):
            key = relation
        self.__dict__["_forward_key"] = key
        return key

    @staticmethod
    def column_names(key: Any) -> frozenset[str]:
        """Lookups whose value is what ``key``'s column holds.

        The column holds the target field's value (the pk, or ``to_field``);
        a pk is also every multi-table ancestor's pk.
        """
        target_field = key.target_field
        names = {target_field.name, target_field.attname}
        if target_field.primary_key:
            names.add("pk")
            model = key.related_model
            for klass in (model, *model._meta.get_parent_list()):
                names.update((klass._meta.pk.name, klass._meta.pk.attname))
        return frozenset(names)

    def use_pk_only_optimization(self) -> bool:
        """Link from the key column alone (no query) when that is all the link needs."""
        key = self.forward_key()
        if key is None:
            return False
        names = self.column_names(key)
        if self.kwarg_mappings is not None:
            # The stand-in object holds the column value only; "self." paths
            # read the parent, which is at hand.
            for path in self.kwarg_mappings.values():
                from_parent, steps = split_path(path)
                if not from_parent and (len(steps) != 1 or steps[0] not in names):
                    return False
            return True
        target = self.resolve_target(key.related_model)
        return target is None or target.lookup_field in names

    def get_attribute(self, instance: Any) -> Any:
        value = super().get_attribute(instance)
        if value is None or (isinstance(value, PKOnlyObject) and value.pk is None):
            return value
        return _WithParent(value, instance)

    def plan_step(self, model: type[models.Model]) -> PlanStep | None:
        """A step for a serializer's plan (:mod:`hypermedia.planning`), or ``None``.

        This exact class over a forward key of ``model`` only: a subclass may
        change any of the steps the plan skips.
        """
        if type(self) is not HyperChannelsApiRelationField or len(self.source_attrs) != 1:
            return None
        key = self.forward_key() if _serializer_model(self) is model else None
        return None if key is None else column_link_step(self, model, key)

    def model_of(self, value: Any) -> type[models.Model] | None:
        if isinstance(value, PKOnlyObject):
            key = self.forward_key()
            return key.related_model if key is not None else None
        if isinstance(value, models.Model):
            return type(value)
        return None

    def to_representation(self, value: Any) -> Link | None:
        value, parent = _unwrap(value)
        if value is None or (isinstance(value, PKOnlyObject) and value.pk is None):
            return None
        return self.build_link(value, parent, self.model_of(value))

    # ----------------------------------------------------------------- input
    def to_internal_value(self, data: Any) -> Any:
        queryset = self.get_queryset()
        if queryset is None:
            raise ImproperlyConfigured(
                f"{self.describe()} takes input but has no queryset: give it queryset=... "
                "or read_only=True."
            )
        if isinstance(data, Mapping):
            return resolve_link(self.get_resolver(), self.get_scope(), data, queryset)
        if is_pk_value(data):
            return resolve_pk(queryset, data)
        raise ValidationError(MALFORMED_MESSAGE, code="invalid")


class HyperlinkedIdentityField(HyperChannelsApiRelationField):
    """The object's own link: what ``@id`` shows. Read-only."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        kwargs["source"] = "*"
        super().__init__(**kwargs)

    def use_pk_only_optimization(self) -> bool:
        return False

    def plan_step(self, model: type[models.Model]) -> PlanStep | None:
        """A step for a serializer's plan (this exact class only), or ``None``."""
        if type(self) is not HyperlinkedIdentityField or self.source_attrs:
            return None
        return identity_link_step(self, model)

    def to_representation(self, value: Any) -> Link | None:
        value, parent = _unwrap(value)
        if not isinstance(value, models.Model) or value.pk is None:
            # Not saved yet: it has no address.
            return None
        return self.build_link(value, parent if parent is not None else value, type(value))


class HyperChannelsApiManyRelationField(HyperChannelsApiMixin, ManyRelatedField):
    """A to-many relation as one ``list`` link to the related objects' stream.

    The default lookups filter the target stream on the relation seen from the
    other side: a reverse foreign key ``author.books`` gives
    ``{"action": "list", "author": <author pk>}`` on the books stream, a
    many-to-many ``book.tags`` gives ``{"action": "list", "books": <book pk>}``
    on the tags stream (the tags' query name for books). The target stream
    must accept that key as a filter (``filterset_fields`` with
    ``streams.filters.FieldFilterBackend``). Explicit ``kwarg_mappings`` paths
    read from the object being serialized, with or without ``self.``, as in
    hypermediachannels. The related objects are never loaded.
    """

    action_name = "list"

    # ---------------------------------------------------------------- output
    def get_attribute(self, instance: Any) -> Any:
        if getattr(instance, "pk", True) is None:
            return None  # unsaved: nothing relates to it yet
        return _WithParent(instance, instance)

    def plan_step(self, model: type[models.Model]) -> PlanStep | None:
        """A step for a serializer's plan (this exact class only), or ``None``."""
        if type(self) is not HyperChannelsApiManyRelationField:
            return None
        return many_link_step(self, self.relation()[0])

    def relation(self) -> tuple[type[models.Model] | None, str | None, str | None]:
        """``(related model, filter key, attribute of the owner giving its value)``.

        ``None`` parts could not be derived from the models.
        """
        cached = self.__dict__.get("_relation")
        if cached is not None:
            return cached
        _, relation = _walk_relations(_serializer_model(self), list(self.source_attrs))
        related_model = getattr(relation, "related_model", None)
        key: str | None = None
        attname: str | None = None
        if relation is not None:
            if relation.auto_created and not relation.concrete:
                # Reverse relation: the target model's own field names it.
                remote = relation.field
                key = remote.name
                if relation.many_to_many:
                    attname = "pk"
                else:
                    target_field = getattr(remote, "target_field", None)
                    attname = getattr(target_field, "attname", None)
            elif relation.many_to_many and not relation.remote_field.hidden:
                key = relation.related_query_name()
                attname = "pk"
        if related_model is None:
            queryset: Any = getattr(self.child_relation, "queryset", None)
            related_model = getattr(queryset, "model", None)
        result = (related_model, key, attname)
        self.__dict__["_relation"] = result
        return result

    def default_mappings(self, target: StreamTarget) -> dict[str, str]:
        _, key, attname = self.relation()
        if key is None or attname is None:
            raise ImproperlyConfigured(
                f"{self.describe()}: cannot tell how stream {target.name!r} filters the objects "
                f"of {'.'.join(self.source_attrs)!r}; give the field kwarg_mappings, e.g. "
                "{'owner': 'self.pk'}."
            )
        owner_path = [*self.source_attrs[:-1], attname]
        return {key: "self." + ".".join(owner_path)}

    def read_lookup(self, obj: Any, parent: Any, path: str) -> Any:
        # Many links read every path from the object being serialized.
        _, steps = split_path(path)
        return read_path(parent, steps)

    def to_representation(self, value: Any) -> Link | None:  # type: ignore[override]
        owner, parent = _unwrap(value)
        if parent is None:
            parent = owner
        model = self.relation()[0]
        if model is None and self.stream_name is None:
            related = drf_get_attribute(parent, list(self.source_attrs))
            model = getattr(related, "model", None)
        link = self.build_link(parent, parent, model)
        if link is not None and self.kwarg_mappings is None:
            self._check_filterable(link)
        return link

    def _check_filterable(self, link: Link) -> None:
        resolver = self.get_resolver()
        target = resolver.stream(link["stream"])
        if target is None or self.action_name != "list":
            return
        accepted = target.filter_fields() or frozenset()
        for key in link["payload"]:
            if key != "action" and key not in accepted:
                resolver.warn_once(
                    ("filter", target.name, key),
                    "%s links to stream %r with the filter %r, which that stream's "
                    "filterset_fields do not accept: following the link lists unrelated "
                    "objects. Add %r to its filterset_fields (with FieldFilterBackend).",
                    self.describe(),
                    target.name,
                    key,
                    key,
                )

    # ----------------------------------------------------------------- input
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            # A dict is iterable (over its keys): refuse it before the parent
            # turns {"stream":..., "payload":...} into two bogus pks.
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)
