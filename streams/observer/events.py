"""What an observer event carries besides the message body, and how to read it back.

Every model event sent to a group has an ``event`` envelope::

    {"id": "<hex>", "model": "app_label.modelname", "pk": <json pk>, "fields": {...}}

``id`` is unique per object and commit; receivers key their per-process caches
on it (one serialization per event, not per subscriber). ``fields`` holds the
object's concrete field values as they were committed, in a form every
channel layer can carry (msgpack for Redis). A receiver rebuilds an unsaved
instance from them (:func:`instance_from_event`) to check object permissions
for each subscriber without a database query.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import secrets
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from rest_framework.utils.encoders import JSONEncoder

logger = logging.getLogger(__name__)

_NATIVE = (str, int, float, bool)


class _NotPlain(Exception):
    pass


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """``value`` rebuilt from plain dicts and lists, or ``_NotPlain`` if it holds more."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if isinstance(value, dict):  # DRF's ReturnDict, OrderedDict...: a plain dict
        plain = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            plain[key] = _plain(item)
        return plain
    if kind is list or kind is tuple:
        return [_plain(item) for item in value]
    raise _NotPlain


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (DRF's encoder for dates, Decimals, UUIDs...).

    The result is what a JSON round trip gives. Bodies are usually plain
    already (``{"pk": 1}``, a serializer's dict of strings and numbers), so
    they are copied without encoding; anything else takes the round trip.
    """
    try:
        return _plain(value)
    except _NotPlain:
        return json.loads(json.dumps(value, cls=JSONEncoder))


def jsonable_pk(pk: Any) -> Any:
    """A pk as it appears in messages: itself when JSON can carry it, else ``str(pk)``."""
    if pk is None or isinstance(pk, _NATIVE):
        return pk
    return str(pk)


def model_label(model: type[models.Model]) -> str:
    return model._meta.label_lower


def encode_fields(instance: models.Model) -> dict[str, Any]:
    """The instance's loaded concrete field values, by attname, in channel-layer-safe types.

    Deferred fields (not loaded, e.g. after ``.only()``) are left out rather
    than fetched: reading them here would cost a query per write.
    """
    loaded = instance.__dict__
    fields: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        attname = field.attname
        if attname not in loaded:
            continue
        value = loaded[attname]
        if value is None or isinstance(value, _NATIVE):
            fields[attname] = value
        elif isinstance(field, models.JSONField):
            fields[attname] = to_jsonable(value)
        else:
            # Dates, Decimals, UUIDs, files, bytes...: the field's own text
            # form, which its to_python() reads back.
            fields[attname] = field.value_to_string(instance)
    return fields


def _new_id_prefix() -> str:
    return secrets.token_hex(8)


#: Event ids are this process's random prefix and a counter: unique across
#: processes like a UUID, at the cost of an increment. A forked child draws
#: a new prefix, or parent and child would hand out the same ids.
_id_prefix = _new_id_prefix()
_id_counter = itertools.count()


def _reseed_ids() -> None:
    global _id_prefix, _id_counter
    _id_prefix = _new_id_prefix()
    _id_counter = itertools.count()


os.register_at_fork(after_in_child=_reseed_ids)


def new_event_id() -> str:
    """A process-unique, practically globally unique event id (hex)."""
    return f"{_id_prefix}{next(_id_counter):x}"


def make_envelope(instance: models.Model) -> dict[str, Any]:
    return {
        "id": new_event_id(),
        "model": model_label(instance._meta.model),
        "pk": jsonable_pk(instance.pk),
        # The database the row lives in: lookups from the rebuilt instance
        # (permissions, serializers) must go there, not to "default".
        "db": instance._state.db,
        "fields": encode_fields(instance),
    }


def model_from_event(event: dict[str, Any]) -> type[models.Model]:
    return apps.get_model(event["model"])


def pk_from_event(event: dict[str, Any]) -> Any:
    """The event's pk as the model's pk field gives it (a UUID, an int...)."""
    model = model_from_event(event)
    return model._meta.pk.to_python(event["pk"])


def instance_from_event(event: dict[str, Any], using: str | None = None) -> models.Model:
    """An instance of the event's model holding the committed field values, without a query.

    It is marked as loaded from the database (``_state.adding`` is false) so
    that permission code treats it like a fetched object. A value that does
    not convert back is left deferred (reading it would then query).
    """
    model = model_from_event(event)
    fields = event.get("fields") or {}
    names: list[str] = []
    values: list[Any] = []
    for field in model._meta.concrete_fields:
        if field.attname not in fields:
            continue
        raw = fields[field.attname]
        if raw is not None and not isinstance(field, models.JSONField):
            try:
                raw = field.to_python(raw)
            except (ValidationError, TypeError, ValueError):
                logger.warning(
                    "Observer event for %s: field %r did not convert back; left deferred.",
                    event.get("model"),
                    field.attname,
                )
                continue
        names.append(field.attname)
        values.append(raw)
    return model.from_db(using or event.get("db") or "default", names, values)
