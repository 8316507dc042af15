"""Filter backends: narrow a consumer's queryset from the message's keyword arguments.

DRF backends get ``(request, queryset, view)`` and read ``request.query_params``.
Over a socket there is no query string: the parameters are the message's own
keys. So a stream backend gets the scope, the consumer, the queryset and the
message keyword arguments::

    class OwnedByUser(BaseFilterBackend):
        def filter_queryset(self, scope, consumer, queryset, /, **kwargs):
            return queryset.filter(owner=scope["user"])

The first three parameters are positional-only (``/``) so that a message key
named ``queryset`` lands in ``kwargs`` instead of raising ``TypeError``; keep the
``/`` when you override. ``kwargs`` holds every message key, including
``action`` and ``request_id``.

DRF's own backends (``rest_framework.filters.SearchFilter``, ``OrderingFilter``,
any subclass of DRF's ``BaseFilterBackend``) may be listed in
``filter_backends`` as they are: :func:`get_filter_backend_instances` wraps them
in :class:`DRFFilterBackendAdapter`, whose request carries the message's scalar
keys as query parameters (``{"action": "list", "search": "tolkien"}``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import FieldError
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from rest_framework import filters as drf_filters
from rest_framework.exceptions import ValidationError

from streams.scope_utils import drf_request_from_scope

logger = logging.getLogger(__name__)

#: Largest magnitude accepted for an integer filter value: a signed 64-bit
#: column's range. Bigger numbers cannot match any row and some databases
#: raise on them when the query runs, outside any error handling here.
MAX_INTEGER = 2**63 - 1

#: Message keys that are never query parameters for DRF backends.
_NOT_QUERY_PARAMS = frozenset({"action", "request_id"})

#: Lookups whose value is a list.
_LIST_LOOKUPS = frozenset({"in", "range"})

_SCALARS = (str, int, float, bool)


class BaseFilterBackend:
    """Base of stream filter backends; the default returns the queryset unchanged."""

    def filter_queryset(
        self, scope: Mapping[str, Any], consumer: Any, queryset: QuerySet[Any], /, **kwargs: Any
    ) -> QuerySet[Any]:
        return queryset


def _scalar_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a filter value, or ``None`` when it can."""
    if value is None or isinstance(value, str | bool):
        return None
    if isinstance(value, int):
        return None if abs(value) <= MAX_INTEGER else "Number out of range."
    if isinstance(value, float):
        return None if math.isfinite(value) else "Number out of range."
    return "Expected a string, a number, a boolean or null."


class FieldFilterBackend(BaseFilterBackend):
    """Filter on fields the consumer allow-lists, with values from the message.

    The consumer declares what may be filtered, in django-filter's spelling::

        filterset_fields = ["author", "title"]                  # exact matches
        filterset_fields = {"pages": ["exact", "gte", "lte"],   # lookups per field
                            "author__name": ["exact", "in"]}

    (DCRF-era ``filter_fields`` is read too.) A message such as
    ``{"action": "list", "pages__gte": 100, "author": 3}`` then filters the
    queryset. Only the declared ``field`` / ``field__lookup`` keys are ever
    used: a client cannot pick lookups or fields of its own (say
    ``owner__password__startswith``). Other keys are ignored, not refused,
    because the same message carries the action's own parameters (``pk``,
    ``data``, ``limit``...). A value that does not fit the field (``"abc"``
    for a number, an object, a number out of range) is a 400 naming the key,
    never a 500. ``in`` and ``range`` take a list of scalars; every other lookup
    a scalar.
    """

    def get_filter_fields(self, consumer: Any) -> dict[str, tuple[str, ...]]:
        """``{field path: lookups}`` from the consumer's declaration."""
        declared = getattr(consumer, "filterset_fields", None)
        if declared is None:
            declared = getattr(consumer, "filter_fields", None)
        if not declared:
            return {}
        if isinstance(declared, Mapping):
            return {name: tuple(lookups) for name, lookups in declared.items()}
        if isinstance(declared, str):
            raise TypeError(
                f"{type(consumer).__qualname__}.filterset_fields is the string {declared!r}; "
                "it must be a list of field names or a dict {field: [lookups]}."
            )
        return {name: ("exact",) for name in declared}

    def get_allowed_params(self, consumer: Any) -> dict[str, str]:
        """Message key -> ORM lookup, e.g. ``"pages__gte" -> "pages__gte"``."""
        allowed: dict[str, str] = {}
        for field, lookups in self.get_filter_fields(consumer).items():
            for lookup in lookups:
                key = field if lookup == "exact" else f"{field}__{lookup}"
                allowed[key] = key
        return allowed

    def validate_value(self, key: str, value: Any) -> str | None:
        """Why ``value`` cannot be used for ``key``, or ``None``."""
        lookup = key.rsplit("__", 1)[-1]
        if lookup in _LIST_LOOKUPS:
            if not isinstance(value, list):
                return "Expected a list."
            if lookup == "range" and len(value) != 2:
                return "Expected a list of two values."
            for item in value:
                problem = _scalar_problem(item)
                if problem:
                    return problem
            return None
        return _scalar_problem(value)

    def filter_queryset(
        self, scope: Mapping[str, Any], consumer: Any, queryset: QuerySet[Any], /, **kwargs: Any
    ) -> QuerySet[Any]:
        allowed = self.get_allowed_params(consumer)
        if not allowed:
            return queryset
        lookups: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for key, value in kwargs.items():
            if key not in allowed:
                continue
            problem = self.validate_value(key, value)
            if problem:
                errors[key] = [problem]
            else:
                lookups[allowed[key]] = value
        if errors:
            raise ValidationError(errors)
        if not lookups:
            return queryset
        try:
            # One filter() call, so lookups across a multi-valued relation
            # must hold for the same related row, as in a django-filter form.
            return queryset.filter(**lookups)
        except FieldError:
            # The consumer declared a field the model does not have: a bug on
            # the server side, so let it surface as a 500 with a traceback.
            raise
        except (ValueError, TypeError, OverflowError, DjangoValidationError):
            raise ValidationError(self._explain(queryset, lookups)) from None

    @staticmethod
    def _explain(queryset: QuerySet[Any], lookups: Mapping[str, Any]) -> dict[str, list[str]]:
        """Which lookups Django refused, and why (run one at a time to find out)."""
        errors: dict[str, list[str]] = {}
        for key, value in lookups.items():
            try:
                queryset.filter(**{key: value})
            except DjangoValidationError as exc:
                errors[key] = [str(message) for message in exc.messages]
            except (ValueError, TypeError, OverflowError) as exc:
                errors[key] = [str(exc) or "Invalid value."]
        return errors or {"non_field_errors": ["Invalid filter values."]}


def _query_params(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Message keys usable as HTTP query parameters: scalars and lists of scalars."""
    params: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in _NOT_QUERY_PARAMS or value is None:
            continue
        if isinstance(value, bool):
            params[key] = "true" if value else "false"
        elif isinstance(value, _SCALARS) or (
            isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value)
        ):
            params[key] = value
    return params


class DRFFilterBackendAdapter(BaseFilterBackend):
    """Run a DRF filter backend (``filter_queryset(request, queryset, view)``) on a stream.

    The request is built from the scope (user, headers) with the message's
    scalar keys as ``request.query_params``; the consumer is the view, so
    ``search_fields``, ``ordering_fields`` and friends are read from it, as DRF
    reads them from a view.
    """

    def __init__(self, backend: Any) -> None:
        self.backend = backend() if isinstance(backend, type) else backend

    def filter_queryset(
        self, scope: Mapping[str, Any], consumer: Any, queryset: QuerySet[Any], /, **kwargs: Any
    ) -> QuerySet[Any]:
        request = drf_request_from_scope(
            scope, kwargs.get("action"), consumer, query=_query_params(kwargs)
        )
        result: QuerySet[Any] = self.backend.filter_queryset(request, queryset, consumer)
        return result


def get_filter_backend_instances(backends: Iterable[Any]) -> list[BaseFilterBackend]:
    """Instantiate ``filter_backends``; DRF backends are wrapped in the adapter."""
    instances: list[BaseFilterBackend] = []
    for backend in backends:
        if isinstance(backend, type) and issubclass(backend, drf_filters.BaseFilterBackend):
            instances.append(DRFFilterBackendAdapter(backend))
        elif isinstance(backend, type):
            instances.append(backend())
        else:
            instances.append(backend)
    return instances
