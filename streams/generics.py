"""``GenericAsyncAPIConsumer``: DRF's ``GenericAPIView`` hooks on a websocket consumer.

The hooks keep DRF's names and DCRF's signatures (message keyword arguments
instead of a request), so consumers and mixins written for DCRF keep working:
``get_queryset(**kwargs)``, ``get_object(**kwargs)``,
``get_serializer(action_kwargs=None, *args, **kwargs)``,
``get_serializer_class(**kwargs)``, ``get_serializer_context(**kwargs)`` and
``filter_queryset(queryset, **kwargs)``. What DCRF left as TODOs is done here:
``filter_backends`` (see :mod:`streams.filters`) and object permissions
(``has_object_permission``, checked in ``get_object``).

The hooks run inside sync actions, in the database thread.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Manager, Model, QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.serializers import BaseSerializer, ListSerializer

from streams.consumers import AsyncAPIConsumer
from streams.errors import NOT_FOUND_MESSAGE, ActionError
from streams.fastpath import represent, serializer_data
from streams.filters import get_filter_backend_instances
from streams.scope_utils import drf_request_from_scope, method_for_action
from streams.settings import api_settings

logger = logging.getLogger(__name__)

#: Integer lookups beyond a signed 64-bit column cannot match a row.
_MAX_LOOKUP_INT = 2**63 - 1


class SettingDefault:
    """A class attribute whose default is read from ``api_settings`` on each access.

    DRF and DCRF copy the setting into the class at import, so
    ``override_settings`` never reaches it. Assigning the attribute in a
    subclass (even to ``None``) replaces the default as usual.
    """

    def __init__(self, setting: str, fallback: Any = None) -> None:
        self.setting = setting
        #: Used when the setting is ``None`` (e.g. a paginator where one is required).
        self.fallback = fallback

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        value = getattr(api_settings, self.setting)
        return self.fallback if value is None else value


def without(kwargs: dict[str, Any], *names: str) -> dict[str, Any]:
    """``kwargs`` minus ``names``; the same dict when none is present (the usual case).

    Message keys reach the hooks as keyword arguments. A key that shares its
    name with a hook's positional parameter (``queryset``, ``serializer``,
    ``instance``, ``obj``) would make the call raise ``TypeError`` in an
    override written as ``def perform_create(self, serializer, **kwargs)``, so
    callers drop such keys first. They can carry nothing meaningful anyway.
    """
    for name in names:
        if name in kwargs:
            return {k: v for k, v in kwargs.items() if k not in names}
    return kwargs


def _lookup_value_is_usable(value: Any) -> bool:
    """Can ``value`` (from the client) be a lookup at all? If not, it is a 404."""
    if isinstance(value, bool) or value is None:
        # JSON true would otherwise find pk 1; null finds nothing by definition.
        return False
    if isinstance(value, str):
        return True
    if isinstance(value, int):
        return abs(value) <= _MAX_LOOKUP_INT
    if isinstance(value, float):
        # 1.5 would be truncated to 1 by an integer field: refuse, not round.
        return math.isfinite(value) and value.is_integer() and abs(value) <= _MAX_LOOKUP_INT
    return False


def _fields_independent_of_instance(serializer_class: type) -> bool:
    """True when no class in the MRO outside DRF (and our hypermedia serializers,
    whose fields never depend on the instance) defines ``__init__``."""
    known = _INSTANCE_INDEPENDENT.get(serializer_class)
    if known is None:
        known = all(
            klass is object
            or "__init__" not in vars(klass)
            or klass.__module__.startswith(("rest_framework.", "hypermedia."))
            for klass in serializer_class.__mro__
        )
        _INSTANCE_INDEPENDENT[serializer_class] = known
    return known


# Memo of _fields_independent_of_instance: a class's MRO does not change.
_INSTANCE_INDEPENDENT: dict[type, bool] = {}


def _list_independent_of_instance(serializer_class: type) -> bool:
    """As :func:`_fields_independent_of_instance`, and ``many_init`` is DRF's or ours."""
    many_init = getattr(getattr(serializer_class, "many_init", None), "__func__", None)
    return _fields_independent_of_instance(serializer_class) and getattr(
        many_init, "__module__", ""
    ).startswith(("rest_framework.", "hypermedia."))


class GenericAsyncAPIConsumer(AsyncAPIConsumer):
    """Base of model consumers: queryset, serializer, lookup, filters, pagination.

    Set ``queryset`` and ``serializer_class`` (or override ``get_queryset`` and
    ``get_serializer_class``), then add mixins from :mod:`streams.mixins` for
    the actions you want.
    """

    queryset: Any = None
    serializer_class: Any = None

    #: Model field used by ``get_object``; ``lookup_url_kwarg`` is the message
    #: key holding its value (default: the same name).
    lookup_field: str = "pk"
    lookup_url_kwarg: str | None = None

    #: Default from ``api_settings.DEFAULT_FILTER_BACKENDS``, read on access.
    filter_backends: Any = SettingDefault("DEFAULT_FILTER_BACKENDS")
    #: Default from ``api_settings.DEFAULT_PAGINATION_CLASS``; ``None`` disables.
    pagination_class: Any = SettingDefault("DEFAULT_PAGINATION_CLASS")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (HTTP method, user) -> the DRF request built for them; see get_request.
        self._request_cache: dict[str, tuple[Any, Request]] = {}
        # serializer class -> a serializer kept to represent single objects;
        # see represent().
        self._representers: dict[type, BaseSerializer[Any]] = {}
        # serializer class -> a ListSerializer kept for lists; see represent_many().
        self._list_representers: dict[type, ListSerializer[Any]] = {}

    # ------------------------------------------------------------- queryset
    def get_queryset(self, **kwargs: Any) -> QuerySet[Any]:
        """The objects this consumer works on; override to restrict per user.

        ``self.queryset`` is cloned with ``.all()`` each time so that its cached
        results never leak from one request into the next (DRF does the same).
        """
        queryset = self.queryset
        if queryset is None:
            raise ImproperlyConfigured(
                f"{type(self).__qualname__} has no queryset: set the `queryset` attribute "
                "(e.g. `queryset = Book.objects.all()`) or override `get_queryset(**kwargs)`."
            )
        if isinstance(queryset, QuerySet | Manager):
            queryset = queryset.all()
        return queryset

    def filter_queryset(
        self, queryset: QuerySet[Any] | None = None, /, **kwargs: Any
    ) -> QuerySet[Any]:
        """Run every filter backend over ``queryset`` with the message's kwargs.

        ``queryset`` is positional-only so that a message key of that name
        cannot collide with it; DCRF's own spelling,
        ``filter_queryset(queryset=qs, **kwargs)``, is still accepted.
        """
        if queryset is None:
            queryset = kwargs.pop("queryset", None)
            if queryset is None:
                raise TypeError(f"{type(self).__qualname__}.filter_queryset() needs a queryset.")
        else:
            kwargs.pop("queryset", None)
        backends = self.filter_backends
        if not backends:
            return queryset
        for backend in get_filter_backend_instances(backends):
            queryset = backend.filter_queryset(self.scope, self, queryset, **kwargs)
        return queryset

    # --------------------------------------------------------------- object
    def get_object(self, **kwargs: Any) -> Model:
        """The object the message's lookup key names, after filters and permissions.

        - the lookup key missing from the message: 400 naming it;
        - a value that cannot be a lookup (``"abc"`` for an integer pk, ``{}``,
          ``[]``, ``null``, ``true``, ``1e309``, a huge number): 404, never a
          500; such a value cannot name an existing object;
        - no such object among ``filter_queryset(get_queryset())``: 404, so
          objects outside the user's queryset are indistinguishable from
          missing ones;
        - then ``check_object_permissions``: 403.
        """
        lookup_url_kwarg = self.lookup_url_kwarg or self.lookup_field
        if lookup_url_kwarg not in kwargs:
            raise ActionError({lookup_url_kwarg: ["This field is required."]}, status=400)
        value = kwargs[lookup_url_kwarg]
        if not _lookup_value_is_usable(value):
            raise NotFound(NOT_FOUND_MESSAGE)
        hook_kwargs = without(kwargs, "queryset")
        queryset = self._lookup_queryset(hook_kwargs)
        try:
            obj = queryset.get(**{self.lookup_field: value})
        except queryset.model.DoesNotExist:
            raise NotFound(NOT_FOUND_MESSAGE) from None
        except (ValueError, TypeError, OverflowError, DjangoValidationError):
            # Django could not convert the value for the field ("abc" for an
            # integer, not a UUID...): nothing can have that key.
            raise NotFound(NOT_FOUND_MESSAGE) from None
        # None when get_object is called outside an action (e.g. by user code).
        action: Any = kwargs.get("action")
        self.check_object_permissions(action, obj, **without(kwargs, "action", "obj"))
        return obj

    def _lookup_queryset(self, hook_kwargs: dict[str, Any]) -> QuerySet[Any]:
        """``filter_queryset(get_queryset())`` for ``get_object``.

        With the default ``get_queryset`` and no filter backends, the class's
        queryset is used as it is: ``.get()`` clones it anyway and never caches
        results on it, so the ``.all()`` clone ``get_queryset`` makes (to keep
        list results from leaking between requests) would be built for nothing.
        """
        queryset = self.queryset
        if (
            type(self).get_queryset is GenericAsyncAPIConsumer.get_queryset
            and type(self).filter_queryset is GenericAsyncAPIConsumer.filter_queryset
            and isinstance(queryset, QuerySet)
            and not self.filter_backends
        ):
            return queryset
        return self.filter_queryset(self.get_queryset(**hook_kwargs), **hook_kwargs)

    # ----------------------------------------------------------- serializer
    def get_serializer(
        self, action_kwargs: dict[str, Any] | None = None, *args: Any, **kwargs: Any
    ) -> BaseSerializer[Any]:
        """An instance of ``get_serializer_class()`` with ``get_serializer_context()``.

        ``action_kwargs`` (DCRF's signature) are the action's message kwargs,
        passed on to the class and context hooks.
        """
        action_kwargs = action_kwargs or {}
        serializer_class = self.get_serializer_class(**action_kwargs)
        kwargs.setdefault("context", self.get_serializer_context(**action_kwargs))
        return serializer_class(*args, **kwargs)

    def represent(self, instance: Model, action_kwargs: dict[str, Any]) -> Any:
        """``get_serializer(instance=instance).data``, without rebuilding the serializer.

        DRF builds a serializer's fields anew for every instance (for a
        ``ModelSerializer``, by introspecting the model): about a third of a
        retrieve. A connection serializes with the same class and context over
        and over, so one serializer per class is kept and asked for
        ``to_representation`` of each object; its output is what ``.data``
        would be. It is never handed out, so callers cannot hold two at once.
        The usual path is taken when ``get_serializer`` is overridden, when the
        context differs from the kept serializer's, and for serializer classes
        with an ``__init__`` of their own (it may shape fields per instance).
        """
        if type(self).get_serializer is not GenericAsyncAPIConsumer.get_serializer:
            return self.get_serializer(instance=instance, action_kwargs=action_kwargs).data
        serializer_class = self.get_serializer_class(**action_kwargs)
        if not _fields_independent_of_instance(serializer_class):
            return self.get_serializer(instance=instance, action_kwargs=action_kwargs).data
        context = self.get_serializer_context(**action_kwargs)
        serializer = self._representers.get(serializer_class)
        if serializer is None or serializer.context != context:
            serializer = serializer_class(context=context)
            self._representers[serializer_class] = serializer
        serializer.instance = instance
        return represent(serializer, instance)

    def represent_many(self, objects: Any, action_kwargs: dict[str, Any]) -> Any:
        """``get_serializer(instance=objects, many=True).data``, without rebuilding it.

        As :meth:`represent`, for lists: a list serializer is built anew for
        every ``list`` (and with it its child's fields and their plan, see
        :mod:`streams.fastpath`), though a connection lists with the same class
        and context each time. One is kept per class when ``many=True`` gives
        DRF's own ``ListSerializer`` (whose ``to_representation`` is the
        child's per object); for each list it holds the objects (list and
        child, as DRF's ``many_init`` sets them) until its data is built. The
        usual path is taken in the same cases as :meth:`represent`, and for
        classes with a ``many_init`` of their own.
        """
        if type(self).get_serializer is GenericAsyncAPIConsumer.get_serializer:
            serializer_class = self.get_serializer_class(**action_kwargs)
            if _list_independent_of_instance(serializer_class):
                context = self.get_serializer_context(**action_kwargs)
                serializer = self._list_representers.get(serializer_class)
                if serializer is None or serializer.context != context:
                    built = serializer_class(many=True, context=context)
                    serializer = built if type(built) is ListSerializer else None
                if serializer is not None:
                    self._list_representers[serializer_class] = serializer
                    child: Any = serializer.child
                    serializer.instance = child.instance = objects
                    try:
                        return serializer_data(serializer)
                    finally:
                        # Do not hold a list of objects until the next request,
                        # nor the data `.data` caches (the path without a plan
                        # uses it): the next list must be built afresh.
                        serializer.instance = child.instance = None
                        serializer.__dict__.pop("_data", None)
        fresh = self.get_serializer(instance=objects, many=True, action_kwargs=action_kwargs)
        return serializer_data(fresh)

    def get_serializer_class(self, **kwargs: Any) -> type[BaseSerializer[Any]]:
        if self.serializer_class is None:
            raise ImproperlyConfigured(
                f"{type(self).__qualname__} has no serializer class: set the "
                "`serializer_class` attribute or override `get_serializer_class(**kwargs)`."
            )
        return self.serializer_class

    def get_serializer_context(self, **kwargs: Any) -> dict[str, Any]:
        """``scope``, ``consumer`` and a DRF ``request`` for the action.

        The request lets DRF fields that expect one (hyperlinks,
        ``CurrentUserDefault``) work unchanged.
        """
        return {
            "scope": self.scope,
            "consumer": self,
            "request": self.get_request(kwargs.get("action")),
        }

    def get_request(self, action: str | None = None) -> Request:
        """A DRF request built from the scope, for ``action``'s HTTP method.

        Built once per method and user and then reused: the scope is the same
        for the whole connection, and building a request per message would
        cost every retrieve a header parse. A new user in the scope (e.g. after
        ``channels.auth.login``) gets a new request.
        """
        method = method_for_action(action, self)
        user = self.scope.get("user")
        cached = self._request_cache.get(method)
        if cached is not None and cached[0] is user:
            return cached[1]
        request = drf_request_from_scope(self.scope, action, self)
        self._request_cache[method] = (user, request)
        return request
