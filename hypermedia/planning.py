"""Link fields planned once per serializer: steps for :mod:`streams.fastpath`'s plan.

DRF represents a link field object by object: ``get_attribute`` (a
``PKOnlyObject`` for a foreign key, the object wrapped with its parent),
``to_representation``, then the route table's stream for the model, the
lookups to read and the link to build. For a serializer's lifetime all of it
but the values is fixed: its context (and so its route table) does not
change once bound. A plan (``streams.fastpath.Plan``) asks each field for a
``plan_step(model)`` once; the link fields answer with a step built here,
which reads the values and builds the same dict, or with ``None`` where the
per-object path must run (no route table or no target stream, where that
path warns or raises; a class of the user's; a column behind a property).
``tests/hypermedia/test_planning.py`` compares both paths' output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.query_utils import DeferredAttribute

from hypermedia.links import make_link, read_path, split_path
from hypermedia.resolver import StreamTarget

__all__ = [
    "PlanStep",
    "column_link_step",
    "identity_link_step",
    "many_link_step",
    "planned_target",
]

#: Puts one field's representation of ``instance`` into ``ret``.
PlanStep = Callable[[Any, dict[str, Any]], None]

#: ``(payload key, read from the object being serialized?, steps)`` per lookup.
Lookups = list[tuple[str, bool, list[str]]]


def planned_target(field: Any, model: type[models.Model] | None) -> StreamTarget | None:
    """The stream ``field.resolve_target(model)`` gives, without its warnings or errors."""
    try:
        resolver = field.get_resolver()
    except ImproperlyConfigured:
        return None
    if field.stream_name is not None:
        return resolver.stream(field.stream_name)
    return resolver.for_model(model) if model is not None else None


def _lookups(field: Any, target: StreamTarget) -> Lookups:
    mappings = field.kwarg_mappings
    if mappings is None:
        mappings = field.default_mappings(target)
    return [(key, *split_path(path)) for key, path in mappings.items()]


def column_link_step(field: Any, model: type[models.Model], key: Any) -> PlanStep | None:
    """A forward key's link from its column, as the pk-only path builds it.

    ``key`` is the field's forward foreign key (or one-to-one) on ``model``.
    DRF reads ``instance.serializable_value(name)``, that is the column's
    ``attname``; "self." lookups read the object, the others the column value.
    """
    if model.serializable_value is not models.Model.serializable_value:
        return None
    attname: str = key.attname
    if not isinstance(model.__dict__.get(attname), DeferredAttribute):
        return None  # a property or other descriptor over the column: DRF's way
    target = planned_target(field, key.related_model)
    if target is None or not field.use_pk_only_optimization():
        return None
    lookups = _lookups(field, target)
    name: str = field.field_name
    stream, action = target.name, field.action_name
    if len(lookups) == 1 and not lookups[0][1]:
        only = lookups[0][0]

        def one_lookup(instance: Any, ret: dict[str, Any]) -> None:
            value = getattr(instance, attname)
            ret[name] = (
                None
                if value is None
                else {"stream": stream, "payload": {"action": action, only: value}}
            )

        return one_lookup

    def step(instance: Any, ret: dict[str, Any]) -> None:
        value = getattr(instance, attname)
        if value is None:
            ret[name] = None
            return
        ret[name] = make_link(
            stream,
            action,
            {
                lookup: read_path(instance, steps) if from_parent else value
                for lookup, from_parent, steps in lookups
            },
        )

    return step


def identity_link_step(field: Any, model: type[models.Model]) -> PlanStep | None:
    """The object's own link (``@id``): every lookup path reads the object itself."""
    target = planned_target(field, model)
    if target is None:
        return None
    lookups = _lookups(field, target)
    name: str = field.field_name
    stream, action = target.name, field.action_name
    if len(lookups) == 1 and lookups[0][2] == ["pk"]:
        only = lookups[0][0]

        def by_pk(instance: Any, ret: dict[str, Any]) -> None:
            pk = instance.pk
            ret[name] = (
                None if pk is None else {"stream": stream, "payload": {"action": action, only: pk}}
            )

        return by_pk

    def step(instance: Any, ret: dict[str, Any]) -> None:
        if instance.pk is None:  # not saved yet: it has no address
            ret[name] = None
            return
        ret[name] = make_link(
            stream, action, {lookup: read_path(instance, steps) for lookup, _, steps in lookups}
        )

    return step


def many_link_step(field: Any, related_model: type[models.Model] | None) -> PlanStep | None:
    """A to-many relation's ``list`` link: every lookup path reads the object itself.

    ``related_model`` is the relation's model, as the field derives it
    (``None``: the per-object path finds it from the related manager). The
    target stream's filter check (a warning, once per route table) runs on
    the first link built, as the per-object path runs it on every link.
    """
    if related_model is None and field.stream_name is None:
        return None
    target = planned_target(field, related_model)
    if target is None:
        return None
    try:
        lookups = _lookups(field, target)
    except ImproperlyConfigured:
        return None  # the per-object path raises it, per object, as before
    name: str = field.field_name
    stream, action = target.name, field.action_name
    checked = field.kwarg_mappings is not None  # only default lookups are checked

    def step(instance: Any, ret: dict[str, Any]) -> None:
        nonlocal checked
        if getattr(instance, "pk", True) is None:  # unsaved: nothing relates to it yet
            ret[name] = None
            return
        link = make_link(
            stream, action, {lookup: read_path(instance, steps) for lookup, _, steps in lookups}
        )
        if not checked:
            field._check_filterable(link)
            checked = True
        ret[name] = link

    return step
