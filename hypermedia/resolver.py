"""Which stream serves a model, on the connection being served.

Links name streams, and streams are per route table: the same serializer can
be mounted on two gateways that serve different streams. So the answer comes
from the table in the serializer context's ``scope["gateway"]`` (our gateway),
or from ``scope["demultiplexer_cls"].applications`` (hypermediachannels'
contract, for code written against it).

A :class:`StreamResolver` is built once per route table and cached: building
it walks every route; using it is a dictionary lookup per model (memoised per
model, with the inheritance walk done once). Route tables are immutable and
neither hashable nor weak-referenceable (``RouteTable`` is a ``Mapping`` with
``__slots__``), so the cache is keyed by identity and keeps a strong reference
to each table it holds, in a small LRU; gateways build one table per mount, so
it never holds more than a handful.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models

from gateway.routing import StreamScope

__all__ = [
    "NoRouteTableError",
    "StreamResolver",
    "StreamTarget",
    "resolver_for_scope",
    "stream_scope_for",
]

logger = logging.getLogger(__name__)

#: How many route tables (or demultiplexer classes) the cache remembers.
CACHE_SIZE = 64


class NoRouteTableError(ImproperlyConfigured, ValueError):
    """A hypermedia serializer was used where no route table is known.

    Also a ``ValueError``: hypermediachannels raised one when a link field had
    no demultiplexer, and code migrating from it catches that.
    """


@dataclass(frozen=True)
class StreamTarget:
    """What links need to know about one stream of a route table."""

    name: str
    #: The consumer class behind the stream, or ``None`` for a plain ASGI app.
    consumer_class: type | None
    #: The model its consumer serves (``queryset.model`` or the serializer's
    #: ``Meta.model``), or ``None``.
    model: type[models.Model] | None
    #: ``get_object``'s model field (``lookup_field``) and the message key that
    #: carries its value (``lookup_url_kwarg``, default the same name).
    lookup_field: str = "pk"
    lookup_kwarg: str = "pk"
    #: How to build a consumer instance: the route's factory when it has one.
    factory: Callable[[], Any] | None = field(default=None, repr=False, compare=False)

    def offers(self, action: str) -> bool:
        """Does the consumer register ``action``?"""
        registry = getattr(self.consumer_class, "actions", None)
        if isinstance(registry, Mapping):
            return action in registry
        # Consumers that are not ours (DCRF-style) keep the registry here.
        available = getattr(self.consumer_class, "available_actions", None)
        return isinstance(available, Mapping) and action in available

    def filter_fields(self) -> frozenset[str] | None:
        """Message keys the consumer's field filter accepts, or ``None`` if it declares none."""
        declared = getattr(self.consumer_class, "filterset_fields", None)
        if declared is None:
            declared = getattr(self.consumer_class, "filter_fields", None)
        if not declared or isinstance(declared, str):
            return None
        if isinstance(declared, Mapping):
            keys: set[str] = set()
            for name, lookups in declared.items():
                keys.update(
                    name if lookup == "exact" else f"{name}__{lookup}" for lookup in lookups
                )
            return frozenset(keys)
        return frozenset(declared)

    def new_consumer(self) -> Any:
        """A consumer instance for running its hooks (no socket, no scope yet)."""
        if self.factory is not None:
            return self.factory()
        if self.consumer_class is None:
            raise TypeError(f"stream {self.name!r} is not served by a consumer class")
        return self.consumer_class()


def model_of_consumer(consumer_class: type | None) -> type[models.Model] | None:
    """The model a consumer class serves, read from its class attributes.

    ``queryset.model`` first, then ``serializer_class.Meta.model``: a consumer
    that overrides ``get_queryset`` often leaves ``queryset`` unset.
    """
    if consumer_class is None:
        return None
    queryset = inspect.getattr_static(consumer_class, "queryset", None)
    model = getattr(queryset, "model", None)
    if _is_model(model):
        return model
    serializer_class = inspect.getattr_static(consumer_class, "serializer_class", None)
    meta = getattr(serializer_class, "Meta", None)
    model = getattr(meta, "model", None)
    return model if _is_model(model) else None


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, models.Model)


def _str_attr(cls: type | None, name: str) -> str | None:
    value = getattr(cls, name, None) if cls is not None else None
    return value if isinstance(value, str) and value else None


def make_target(
    name: str, consumer_class: type | None, factory: Callable[[], Any] | None = None
) -> StreamTarget:
    lookup_field = _str_attr(consumer_class, "lookup_field") or "pk"
    lookup_kwarg = _str_attr(consumer_class, "lookup_url_kwarg") or lookup_field
    return StreamTarget(
        name=name,
        consumer_class=consumer_class,
        model=model_of_consumer(consumer_class),
        lookup_field=lookup_field,
        lookup_kwarg=lookup_kwarg,
        factory=factory,
    )


class StreamResolver:
    """Model -> stream and name -> stream for one route table.

    A model is served by the stream whose consumer's model is the model
    itself, else by the one serving its nearest ancestor in the MRO
    (multi-table parents, proxies' concrete models, at any depth). When two
    streams serve the same model, the first in the table wins.
    """

    def __init__(self, targets: Mapping[str, StreamTarget], routes: Any = None) -> None:
        self._targets = dict(targets)
        #: The gateway route table this was built from (``None`` for hypermediachannels').
        self.routes = routes
        self._by_exact_model: dict[type[models.Model], StreamTarget] = {}
        for target in self._targets.values():
            if target.model is not None:
                self._by_exact_model.setdefault(target.model, target)
        self._by_model: dict[type[models.Model], StreamTarget | None] = {}
        self._warned: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<StreamResolver {list(self._targets)!r}>"

    def stream(self, name: str) -> StreamTarget | None:
        """The stream called ``name`` on this table, or ``None``."""
        return self._targets.get(name)

    def for_model(self, model: type[models.Model]) -> StreamTarget | None:
        """The stream serving ``model`` or its nearest ancestor, or ``None``."""
        try:
            return self._by_model[model]
        except KeyError:
            pass
        found: StreamTarget | None = None
        for klass in model.__mro__:
            if klass is models.Model or not _is_model(klass):
                continue
            found = self._by_exact_model.get(klass)
            if found is not None:
                break
        with self._lock:
            self._by_model[model] = found
        return found

    def warn_once(self, key: tuple[str, ...], message: str, *args: Any) -> None:
        """Log a configuration warning once per route table."""
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        logger.warning(message, *args)


class _IdentityCache:
    """A small LRU of resolvers keyed by the identity of their source object."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[int, tuple[Any, Any, StreamResolver]] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, source: Any, fingerprint: Any, build: Callable[[], StreamResolver]
    ) -> StreamResolver:
        key = id(source)
        with self._lock:
            entry = self._entries.get(key)
            # The strong reference in the entry keeps ``id(source)`` from being
            # reused while the entry lives, so identity is enough.
            if entry is not None and entry[0] is source and entry[1] == fingerprint:
                self._entries.move_to_end(key)
                return entry[2]
        resolver = build()
        with self._lock:
            self._entries[key] = (source, fingerprint, resolver)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return resolver

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_cache = _IdentityCache(CACHE_SIZE)


def _resolver_for_routes(routes: Mapping[str, Any]) -> StreamResolver:
    def build() -> StreamResolver:
        targets = {}
        for name, route in routes.items():
            consumer_class = getattr(route, "consumer_class", None)
            factory = getattr(route, "new_instance", None)
            if consumer_class is not None and getattr(route, "initkwargs", None) is None:
                # Wrapped application (middleware...): instantiate the class bare.
                factory = None
            targets[name] = make_target(name, consumer_class, factory)
        return StreamResolver(targets, routes=routes)

    # The gateway's tables are immutable: no fingerprint needed.
    return _cache.get(routes, None, build)


def _consumer_class_of_app(app: Any) -> tuple[type | None, Callable[[], Any] | None]:
    """``(consumer class, factory)`` of an entry of a demultiplexer's table."""
    if isinstance(app, type):
        return app, app
    consumer_class = getattr(app, "consumer_class", None)
    if not isinstance(consumer_class, type):
        return None, None
    initkwargs = dict(getattr(app, "consumer_initkwargs", None) or {})
    return consumer_class, lambda: consumer_class(**initkwargs)


def _resolver_for_demultiplexer(demultiplexer_cls: Any) -> StreamResolver:
    applications = getattr(demultiplexer_cls, "applications", None)
    if not isinstance(applications, Mapping):
        raise NoRouteTableError(
            f"scope['demultiplexer_cls'] is {demultiplexer_cls!r}, which has no `applications` "
            "mapping of stream name to consumer. Use a channelsmultiplexer demultiplexer, or "
            "serve the streams through gateway.Gateway."
        )
    # channelsmultiplexer keeps ``applications`` as mutable class state (its
    # ``as_asgi(**streams)`` adds to it), so the snapshot is checked against it.
    fingerprint = tuple((name, id(app)) for name, app in applications.items())

    def build() -> StreamResolver:
        targets = {}
        for name, app in applications.items():
            consumer_class, factory = _consumer_class_of_app(app)
            targets[name] = make_target(name, consumer_class, factory)
        return StreamResolver(targets)

    return _cache.get(demultiplexer_cls, fingerprint, build)


def describe_missing_route_table(owner: str) -> str:
    return (
        f"{owner} builds links to the streams of the connection being served, but its "
        "serializer context has no route table: neither context['scope']['gateway'] (set by "
        "gateway.Gateway) nor hypermediachannels' context['scope']['demultiplexer_cls']. Serve "
        "the consumer through gateway.Gateway, and build the serializer with the consumer's "
        "get_serializer() or pass context={'scope': consumer.scope}."
    )


def resolver_for_scope(scope: Any, owner: str = "This serializer") -> StreamResolver:
    """The resolver for the route table found in ``scope``.

    Raises :class:`NoRouteTableError` (naming ``owner``) when the scope
    carries neither our gateway's ``StreamScope`` nor a demultiplexer class.
    """
    if isinstance(scope, Mapping):
        stream_scope = scope.get("gateway")
        routes = getattr(stream_scope, "routes", None)
        if isinstance(routes, Mapping):
            return _resolver_for_routes(routes)
        demultiplexer_cls = scope.get("demultiplexer_cls")
        if demultiplexer_cls is not None:
            return _resolver_for_demultiplexer(demultiplexer_cls)
    raise NoRouteTableError(describe_missing_route_table(owner))


def stream_scope_for(scope: Mapping[str, Any], stream: str) -> dict[str, Any]:
    """A copy of the connection's ``scope`` as the stream ``stream`` sees it."""
    scope = dict(scope)
    stream_scope = scope.get("gateway")
    routes = getattr(stream_scope, "routes", None)
    if isinstance(routes, Mapping):
        scope["gateway"] = StreamScope(routes=routes, stream=stream)  # type: ignore[arg-type]
    return scope


def clear_cache() -> None:
    """Forget every cached resolver (tests; code that rebuilds tables at runtime)."""
    _cache.clear()
