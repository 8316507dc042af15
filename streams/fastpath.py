"""A faster ``Serializer.to_representation`` for plain model fields, with DRF's results.

DRF's ``Serializer.to_representation`` asks every field for its attribute
through ``Field.get_attribute``: a loop over ``source_attrs``, an
``isinstance(instance, Mapping)`` ABC check and an ``is_simple_callable``
inspection per field and object, then ``field.to_representation``. For the
fields a ``ModelSerializer`` builds from concrete model columns (text,
numbers, dates, a foreign key's pk, a many-to-many's pks) none of that can
change the answer: the attribute is a plain value on the instance. A
:class:`Plan` is made once per bound serializer and reads those attributes
directly; every other field (custom classes, hypermedia links,
``SerializerMethodField``, dotted sources, ``pk_field``...) takes exactly DRF's
steps, in the same order. Serializers that override ``to_representation``
get no plan at all.

A field class outside DRF can offer a step of its own: a method
``plan_step(model)`` returning ``step(instance, ret)``, which must put into
``ret`` exactly what DRF's loop would (or nothing where DRF skips the field),
or ``None`` to be run DRF's way. ``hypermedia``'s link fields do, so their
links are planned once per serializer too (this module knows nothing of
them: ``streams`` never imports ``hypermedia``).

The result is the dict DRF returns (same keys, order and values); the tests in
``tests/streams/test_fastpath.py`` compare both over every kind of field.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.query_utils import DeferredAttribute
from rest_framework import ISO_8601, relations
from rest_framework import fields as drf_fields
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.serializers import BaseSerializer, ListSerializer, Serializer
from rest_framework.settings import api_settings
from rest_framework.utils.serializer_helpers import ReturnList

__all__ = ["Plan", "plan_for", "represent", "serializer_data"]

_Step = Callable[[Any, dict[str, Any]], None]

# Concrete model columns whose descriptor returns the stored value as is.
_PLAIN_COLUMNS = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
    models.AutoField,
    models.BigAutoField,
    models.SmallAutoField,
    models.DateField,
    models.BooleanField,
)


def _drf_step(field: Any) -> _Step:
    """Exactly what ``Serializer.to_representation`` does for one field."""
    name: str = field.field_name
    get_attribute = field.get_attribute
    to_representation = field.to_representation

    def step(instance: Any, ret: dict[str, Any]) -> None:
        try:
            attribute = get_attribute(instance)
        except SkipField:
            return
        check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
        ret[name] = None if check_for_none is None else to_representation(attribute)

    return step


def _column(model: type[models.Model], name: str) -> models.Field[Any, Any] | None:
    try:
        column = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return column if isinstance(column, models.Field) else None


#: DRF's BigIntegerField is newer than our oldest supported DRF (3.16.0 has
#: none); there, big integers reach us as IntegerField and take that branch.
_DRF_BIG_INTEGER_FIELD: type | None = getattr(drf_fields, "BigIntegerField", None)


def _plain_value_step(field: Any, model: type[models.Model]) -> _Step | None:
    """Char/Integer/Date/Boolean fields over a plain column of the same kind."""
    attrs = field.source_attrs
    if len(attrs) != 1:
        return None
    column = _column(model, attrs[0])
    if column is None or type(column) not in _PLAIN_COLUMNS or column.is_relation:
        return None
    attr: str = column.attname
    if not isinstance(model.__dict__.get(attr), DeferredAttribute):
        return None  # a property or other descriptor in its place: DRF decides
    name: str = field.field_name
    kind = type(field)
    if kind is drf_fields.CharField:
        convert: Callable[[Any], Any] = str
    elif kind is drf_fields.IntegerField or (
        kind is _DRF_BIG_INTEGER_FIELD
        and not getattr(field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING)
    ):
        convert = int
    elif kind is drf_fields.DateField and not isinstance(column, models.DateTimeField):
        date_format = getattr(field, "format", api_settings.DATE_FORMAT)
        if not (isinstance(date_format, str) and date_format.lower() == ISO_8601):
            return None
        to_representation = field.to_representation

        def convert(value: Any) -> Any:
            # A plain date: isoformat, as DRF. Anything else: DRF decides.
            return value.isoformat() if type(value) is datetime.date else to_representation(value)
    else:
        return None

    def step(instance: Any, ret: dict[str, Any]) -> None:
        value = instance.__dict__[attr] if attr in instance.__dict__ else getattr(instance, attr)
        ret[name] = None if value is None else convert(value)

    return step


def _foreign_key_step(field: Any, model: type[models.Model]) -> _Step | None:
    """``PrimaryKeyRelatedField`` over a forward foreign key: its ``*_id`` column."""
    if type(field) is not relations.PrimaryKeyRelatedField or field.pk_field is not None:
        return None
    attrs = field.source_attrs
    if len(attrs) != 1:
        return None
    column = _column(model, attrs[0])
    if not isinstance(column, models.ForeignKey):
        return None
    attr: str = column.attname
    if not isinstance(model.__dict__.get(attr), DeferredAttribute):
        return None
    name: str = field.field_name  # type: ignore[assignment]  # bound: always set

    def step(instance: Any, ret: dict[str, Any]) -> None:
        # DRF: instance.serializable_value(name) -> getattr(instance, attname).
        ret[name] = getattr(instance, attr)

    return step


def _many_pks_step(field: Any, model: type[models.Model]) -> _Step | None:
    """``ManyRelatedField`` of ``PrimaryKeyRelatedField`` over a forward many-to-many."""
    if type(field) is not relations.ManyRelatedField:
        return None
    child = field.child_relation
    if type(child) is not relations.PrimaryKeyRelatedField or child.pk_field is not None:
        return None
    attrs = field.source_attrs
    if len(attrs) != 1:
        return None
    column = _column(model, attrs[0])
    if not isinstance(column, models.ManyToManyField):
        return None
    attr = attrs[0]
    name: str = field.field_name  # type: ignore[assignment]  # bound: always set
    # Where prefetch_related() leaves the related objects; the manager's
    # get_queryset() returns exactly that queryset when it is there.
    cache_name = column.name

    def step(instance: Any, ret: dict[str, Any]) -> None:
        if instance.pk is None:  # DRF: an unsaved instance has no relations yet
            ret[name] = []
            return
        prefetched = instance.__dict__.get("_prefetched_objects_cache")
        related = prefetched.get(cache_name) if prefetched else None
        if related is None:
            related = getattr(instance, attr).all()
        ret[name] = [obj.pk for obj in related]

    return step


_FAST_STEPS = (_plain_value_step, _foreign_key_step, _many_pks_step)


class Plan:
    """How one bound serializer represents an instance of its model."""

    __slots__ = ("fast", "model", "steps")

    def __init__(self, serializer: Serializer[Any], model: type[models.Model]) -> None:
        self.model = model
        self.steps: list[_Step] = []
        self.fast = 0
        for field in serializer._readable_fields:
            step = None
            for make in _FAST_STEPS:
                step = make(field, model)
                if step is not None:
                    break
            if step is None:
                plan_step = getattr(field, "plan_step", None)
                step = plan_step(model) if callable(plan_step) else None
            if step is not None:
                self.fast += 1
            self.steps.append(step or _drf_step(field))

    def __call__(self, instance: Any) -> dict[str, Any]:
        ret: dict[str, Any] = {}
        for step in self.steps:
            step(instance, ret)
        return ret


# Where a serializer keeps its plan (a serializer's fields never change once
# bound). On the serializer itself, so the plan dies with it: a plan holds the
# fields' bound methods, and so the serializer, so a table keyed by serializer
# (even weakly) would keep every serializer ever planned, and the objects of
# every list, alive.
_PLAN_ATTR = "_streams_fastpath_plan"
_NO_PLAN_YET = object()


def plan_for(serializer: BaseSerializer[Any]) -> Plan | None:
    """The serializer's plan, or None where DRF's own method must run."""
    cached = getattr(serializer, "__dict__", {}).get(_PLAN_ATTR, _NO_PLAN_YET)
    if cached is not _NO_PLAN_YET:
        return cached
    plan = None
    meta = getattr(serializer, "Meta", None)
    model = getattr(meta, "model", None)
    if (
        isinstance(serializer, Serializer)
        and type(serializer).to_representation is Serializer.to_representation
        and isinstance(model, type)
        and issubclass(model, models.Model)
    ):
        plan = Plan(serializer, model)
        if not plan.fast:
            plan = None  # nothing to gain: keep DRF's path
    with contextlib.suppress(AttributeError):  # no __dict__: plan again next time
        serializer.__dict__[_PLAN_ATTR] = plan
    return plan


def represent(serializer: BaseSerializer[Any], instance: Any) -> Any:
    """``serializer.to_representation(instance)``, through the plan when there is one."""
    plan = plan_for(serializer)
    # Exactly the model: a subclass may put properties over the columns.
    if plan is None or type(instance) is not plan.model:
        return serializer.to_representation(instance)
    return plan(instance)


def serializer_data(serializer: BaseSerializer[Any]) -> Any:
    """``serializer.data``; a plain ``ListSerializer`` of instances goes through the child's plan.

    Only the exact ``ListSerializer`` class built around an instance (never
    one holding input data) is served here; anything else is ``.data``.
    """
    if (
        type(serializer) is not ListSerializer
        or serializer.instance is None
        or hasattr(serializer, "initial_data")
        or hasattr(serializer, "_data")
    ):
        return serializer.data
    child = serializer.child
    if not isinstance(child, BaseSerializer):
        return serializer.data
    plan = plan_for(child)
    if plan is None:
        return serializer.data
    data = serializer.instance
    iterable = data.all() if isinstance(data, models.manager.BaseManager) else data
    model = plan.model
    to_representation = child.to_representation
    ret = [plan(item) if type(item) is model else to_representation(item) for item in iterable]
    return ReturnList(ret, serializer=serializer)
