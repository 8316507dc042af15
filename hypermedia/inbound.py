"""Links as input: turn ``{"stream": S, "payload": {...}}`` into the object it names.

The link is resolved the way sending it would be answered: by the target
stream's own consumer (its ``get_queryset``, filter backends, lookup,
``check_permissions`` and object permissions), for the user of the
connection, for the link's action and, when the stream offers it, for
``retrieve`` too. A client therefore cannot attach, through a relation, an object it
could not retrieve itself. Each failure is a field error (a 400 reply from the
action that validated the serializer), never a 403/404 reply or a 500.

This runs inside serializer validation, which happens in sync actions in the
database thread; the consumer's async ``check_permissions`` is run on the event
loop from there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import Http404
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.exceptions import PermissionDenied as DRFPermissionDenied

from hypermedia.resolver import StreamResolver, stream_scope_for
from streams.consumers import RESERVED_KWARGS
from streams.threads import await_from_thread

__all__ = [
    "MALFORMED_MESSAGE",
    "NOT_FOUND_MESSAGE",
    "resolve_link",
    "resolve_pk",
]

logger = logging.getLogger(__name__)

#: hypermediachannels' words for input that is neither a link nor a pk.
MALFORMED_MESSAGE = "Must be either a hyper-media reference or a pk value"
NOT_FOUND_MESSAGE = "Not found"
UNKNOWN_STREAM_MESSAGE = "Stream {stream!r} is not served on this connection."
NOT_A_CONSUMER_MESSAGE = "Stream {stream!r} cannot resolve links: it is not a model consumer."
UNKNOWN_ACTION_MESSAGE = "Stream {stream!r} does not offer the action {action!r}."
WRONG_MODEL_MESSAGE = "Stream {stream!r} serves {found}, not {expected}."

#: Longest client-given name echoed in an error; longer ones are cut, so an
#: error reply never grows with the input.
ECHO_LIMIT = 64

RETRIEVE = "retrieve"

#: Payload keys that are the frame's own, not lookups.
_NOT_LOOKUPS = frozenset({"action", "request_id"})


def _echo(name: str) -> str:
    return name if len(name) <= ECHO_LIMIT else name[:ECHO_LIMIT] + "..."


def _fail(message: str) -> ValidationError:
    return ValidationError(message, code="invalid")


def _flatten(detail: Any) -> list[str]:
    """A DRF error detail as flat strings, so it fits under one field."""
    if isinstance(detail, Mapping):
        return [f"{key}: {message}" for key, value in detail.items() for message in _flatten(value)]
    if isinstance(detail, list | tuple):
        return [message for item in detail for message in _flatten(item)]
    return [str(detail)]


def is_pk_value(data: Any) -> bool:
    """Can ``data`` be a primary key as sent in JSON? (Never a bool: ``true`` is not pk 1.)"""
    return isinstance(data, str | int) and not isinstance(data, bool)


def resolve_pk(queryset: models.QuerySet[Any], data: Any) -> models.Model:
    """The object of ``queryset`` with primary key ``data``, or a field error."""
    try:
        return queryset.get(pk=data)
    except (ObjectDoesNotExist, ValueError, TypeError, OverflowError, DjangoValidationError):
        # A value that does not fit the pk's type ("abc" for an integer)
        # cannot name an object either.
        raise _fail(NOT_FOUND_MESSAGE) from None


def _parse(data: Any) -> tuple[str, str, dict[str, Any]]:
    """``(stream, action, lookups)`` of a well-formed link, else a field error."""
    if not isinstance(data, Mapping):
        raise _fail(MALFORMED_MESSAGE)
    stream, payload = data.get("stream"), data.get("payload")
    if set(data) - {"stream", "payload"} or not isinstance(stream, str) or not stream:
        raise _fail(MALFORMED_MESSAGE)
    if not isinstance(payload, Mapping):
        raise _fail(MALFORMED_MESSAGE)
    action = payload.get("action")
    if not isinstance(action, str) or not action:
        raise _fail(MALFORMED_MESSAGE)
    lookups = {k: v for k, v in payload.items() if k not in _NOT_LOOKUPS}
    if any(not isinstance(key, str) for key in lookups) or RESERVED_KWARGS.intersection(lookups):
        raise _fail(MALFORMED_MESSAGE)
    return stream, action, lookups


def _check_permissions(consumer: Any, action: str, lookups: dict[str, Any]) -> None:
    check = getattr(consumer, "check_permissions", None)
    if check is None:
        return
    result = check(action, **lookups)
    if hasattr(result, "__await__"):
        # Validation runs inside the action's atomic block: keep its connection.
        await_from_thread(result)


def resolve_link(
    resolver: StreamResolver,
    scope: Mapping[str, Any],
    data: Any,
    queryset: models.QuerySet[Any],
) -> models.Model:
    """The object the link ``data`` names, as the target stream would retrieve it.

    ``queryset`` is the relation field's: the object must also belong to it
    (a field limited to published books stays limited when given a link).
    Every failure raises a ``ValidationError`` holding a single message.
    """
    stream, action, lookups = _parse(data)
    target = resolver.stream(stream)
    if target is None:
        raise _fail(UNKNOWN_STREAM_MESSAGE.format(stream=_echo(stream)))
    if target.consumer_class is None or not callable(
        getattr(target.consumer_class, "get_object", None)
    ):
        raise _fail(NOT_A_CONSUMER_MESSAGE.format(stream=stream))
    if not target.offers(action):
        raise _fail(UNKNOWN_ACTION_MESSAGE.format(stream=stream, action=_echo(action)))

    consumer = target.new_consumer()
    consumer.scope = stream_scope_for(scope, stream)
    # A link names an object: whoever may not retrieve it must not reach it by
    # naming a laxer action of the same stream ("list", "create"...), so a
    # stream that offers retrieve also decides as retrieve.
    actions = [action]
    if action != RETRIEVE and target.offers(RETRIEVE):
        actions.append(RETRIEVE)
    try:
        for checked in actions:
            _check_permissions(consumer, checked, lookups)
            obj = consumer.get_object(action=checked, **lookups)
    except (Http404, ObjectDoesNotExist, NotFound):
        raise _fail(NOT_FOUND_MESSAGE) from None
    except (DRFPermissionDenied, DjangoPermissionDenied) as exc:
        detail = getattr(exc, "detail", None) or DRFPermissionDenied.default_detail
        raise _fail(str(detail)) from None
    except APIException as exc:
        # A missing lookup key (400), a filter value the stream refuses, a
        # throttle...: what the stream would have answered, as a field error.
        raise ValidationError(_flatten(exc.detail)) from None

    return _within(queryset, obj, stream)


def _within(queryset: models.QuerySet[Any], obj: Any, stream: str) -> models.Model:
    """``obj`` as a member of the field's ``queryset``, or a field error."""
    model = queryset.model
    if not isinstance(obj, model):
        if not (isinstance(obj, models.Model) and issubclass(model, type(obj))):
            raise _fail(
                WRONG_MODEL_MESSAGE.format(
                    stream=stream,
                    found=type(obj).__name__,
                    expected=model.__name__,
                )
            )
        # A parent-model stream named the object; the field wants the child
        # (multi-table inheritance shares the primary key).
        return resolve_pk(queryset, obj.pk)
    # An unfiltered queryset holds every row of the model: no query needed.
    if queryset.query.has_filters() and not queryset.filter(pk=obj.pk).exists():
        raise _fail(NOT_FOUND_MESSAGE)
    return obj
