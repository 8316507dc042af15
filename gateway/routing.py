"""Route tables: which application answers which stream name.

A :class:`RouteTable` is built once per mounted gateway (per ``as_asgi()`` call)
and never changes afterwards, so two routes of the same gateway class can carry
different streams without seeing each other's (channelsmultiplexer kept its
table in shared class state, which leaked streams between routes).

Every stream application finds the table of its own connection in
``scope["gateway"]`` (a :class:`StreamScope`), which is how helpers such as
``hypermedia`` turn a model into "the stream that serves it" for *this* route.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from channels.consumer import AsyncConsumer

from gateway.asgi import ASGIApp

__all__ = ["Route", "RouteTable", "StreamScope"]

# Every application made by channels' ``AsyncConsumer.as_asgi()`` shares this
# code object. Matching on it (rather than on the ``consumer_class`` attribute,
# which ``functools.wraps`` copies onto wrappers such as middleware) tells us
# the application does nothing but ``cls(**initkwargs)(scope, receive, send)``,
# so the gateway may create that instance itself and keep a handle on it for
# cleanup (see ``gateway.stream``).
_CHANNELS_APP_CODE = AsyncConsumer.as_asgi().__code__


@dataclass(frozen=True, slots=True)
class Route:
    """One stream of a route table.

    ``app`` is the ASGI application that serves the stream. ``consumer_class``
    is the Channels consumer class behind it when there is one (a class mounted
    directly, or an ``as_asgi()`` application), else ``None`` (a plain ASGI
    callable, a ``URLRouter``...).
    """

    name: str
    app: ASGIApp
    consumer_class: type | None = None
    # Keyword arguments for ``consumer_class`` when the gateway may instantiate
    # it directly (see ``_CHANNELS_APP_CODE``); ``None`` when it must call ``app``.
    initkwargs: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def accepts_json(self) -> bool:
        """Does the consumer take decoded payloads (``gateway_json = True``)?"""
        return getattr(self.consumer_class, "gateway_json", False) is True

    def new_instance(self) -> Any | None:
        """A fresh consumer instance, or ``None`` when only ``app`` can be called."""
        if self.initkwargs is None or self.consumer_class is None:
            return None
        return self.consumer_class(**self.initkwargs)

    @classmethod
    def mount(cls, name: str, target: Any, *, owner: str = "Gateway") -> Route:
        """Build the route for ``target``: a consumer class or an ASGI application.

        ``owner`` names the gateway in error messages, so a misconfigured table
        points at the class to fix.
        """
        if not isinstance(name, str) or not name:
            raise TypeError(
                f"{owner}: stream names must be non-empty strings, got {name!r}. "
                "Use names such as 'books' as the keys of the streams table."
            )
        if isinstance(target, type):
            as_asgi = getattr(target, "as_asgi", None)
            if not callable(as_asgi):
                raise TypeError(
                    f"{owner}: stream {name!r} is the class {target.__qualname__}, which has "
                    "no as_asgi(). Mount a Channels consumer class or an ASGI application."
                )
            app = as_asgi()
            initkwargs: dict[str, Any] | None = {} if _is_plain_channels_app(app) else None
            return cls(name=name, app=app, consumer_class=target, initkwargs=initkwargs)
        if callable(target):
            consumer_class = getattr(target, "consumer_class", None)
            if not isinstance(consumer_class, type):
                consumer_class = None
            initkwargs = None
            if consumer_class is not None and _is_plain_channels_app(target):
                initkwargs = dict(getattr(target, "consumer_initkwargs", None) or {})
            return cls(name=name, app=target, consumer_class=consumer_class, initkwargs=initkwargs)
        raise TypeError(
            f"{owner}: stream {name!r} is {target!r}, which is neither a consumer class nor "
            "an ASGI application. Use e.g. BookConsumer or BookConsumer.as_asgi()."
        )


def _is_plain_channels_app(app: Any) -> bool:
    return getattr(app, "__code__", None) is _CHANNELS_APP_CODE


class RouteTable(Mapping[str, Route]):
    """An immutable mapping of stream name to :class:`Route`.

    Read it like a dict (``table["books"]``, ``table.get(name)``, iteration,
    ``items()``); there is no way to change it after construction.
    """

    __slots__ = ("_routes",)

    def __init__(self, routes: Iterable[Route] = ()) -> None:
        table: dict[str, Route] = {}
        for route in routes:
            if route.name in table:
                raise ValueError(f"Two routes are named {route.name!r}; stream names are unique.")
            table[route.name] = route
        self._routes: Mapping[str, Route] = MappingProxyType(table)

    @classmethod
    def from_streams(cls, streams: Mapping[str, Any], *, owner: str = "Gateway") -> RouteTable:
        """Mount every entry of a ``{name: consumer class | ASGI app}`` table."""
        if not isinstance(streams, Mapping):
            raise TypeError(
                f"{owner}: streams must be a mapping of stream name to consumer class or "
                f"ASGI application, got {type(streams).__name__}."
            )
        return cls(Route.mount(name, target, owner=owner) for name, target in streams.items())

    def __getitem__(self, name: str) -> Route:
        return self._routes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._routes)

    def __len__(self) -> int:
        return len(self._routes)

    def __contains__(self, name: object) -> bool:
        return name in self._routes

    def names_for(self, consumer_class: type) -> tuple[str, ...]:
        """The names of the streams served by exactly ``consumer_class``."""
        return tuple(
            name for name, route in self._routes.items() if route.consumer_class is consumer_class
        )

    def __repr__(self) -> str:
        return f"RouteTable({list(self._routes)!r})"


@dataclass(frozen=True, slots=True)
class StreamScope:
    """What a stream application finds in ``scope["gateway"]``.

    ``routes`` is the route table of the gateway that carries the connection,
    ``stream`` the name this application serves on it. ``shared`` is one dict
    per connection, the same for all its streams: where limits that apply to
    the socket as a whole keep their counts (keys named after the module that
    owns them, e.g. ``"streams.observer.list_subscriptions"``).
    """

    routes: RouteTable
    stream: str
    shared: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def route(self) -> Route:
        return self.routes[self.stream]
