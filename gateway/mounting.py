"""Mounting a gateway class: its streams table, its limits, ``as_asgi()``.

:class:`Mountable` is the class-level half of :class:`gateway.Gateway`: what a
subclass declares (``streams``, limits as class attributes) and how it becomes
an ASGI application with its route table and options resolved once per mounted
route. The per-connection half is :class:`gateway.Gateway` itself.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from rest_framework.utils.encoders import JSONEncoder as DRFJSONEncoder

from gateway.asgi import ASGIApp, Receive, Scope, Send
from gateway.options import DEFAULT_OPTIONS
from gateway.routing import RouteTable

if TYPE_CHECKING:
    from gateway.options import GatewayOptions

__all__ = ["Mountable"]


class Mountable:
    """Streams, limits and ``as_asgi()``; mixed into :class:`gateway.Gateway`."""

    __slots__ = ()

    if TYPE_CHECKING:
        # Gateway's: one instance per connection, called as an ASGI application.
        def __init__(
            self, *, routes: RouteTable | None = None, options: GatewayOptions | None = None
        ) -> None: ...

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...

    streams: ClassVar[Mapping[str, Any]] = MappingProxyType({})

    max_frame_bytes: ClassVar[int] = DEFAULT_OPTIONS.max_frame_bytes
    max_in_flight: ClassVar[int] = DEFAULT_OPTIONS.max_in_flight
    max_outbound_bytes: ClassVar[int] = DEFAULT_OPTIONS.max_outbound_bytes
    max_bad_frames: ClassVar[int | None] = DEFAULT_OPTIONS.max_bad_frames
    max_json_depth: ClassVar[int] = DEFAULT_OPTIONS.max_json_depth
    application_close_timeout: ClassVar[float] = DEFAULT_OPTIONS.application_close_timeout
    close_timeout: ClassVar[float] = DEFAULT_OPTIONS.close_timeout
    stream_connect_timeout: ClassVar[float] = DEFAULT_OPTIONS.stream_connect_timeout
    shutdown_grace: ClassVar[float] = DEFAULT_OPTIONS.shutdown_grace
    eager_streams: ClassVar[bool] = DEFAULT_OPTIONS.eager_streams
    max_frames_per_second: ClassVar[float | None] = DEFAULT_OPTIONS.max_frames_per_second
    frame_burst: ClassVar[int] = DEFAULT_OPTIONS.frame_burst
    #: DRF's encoder, the one AsyncAPIConsumer uses standalone, so a payload
    #: (Decimals, datetimes, UUIDs, lazy strings) encodes the same either way.
    json_encoder: ClassVar[type[json.JSONEncoder]] = DRFJSONEncoder

    @classmethod
    def get_streams(cls) -> Mapping[str, Any]:
        """The streams table used when ``as_asgi()`` gets none."""
        return cls.streams

    @classmethod
    def build_routes(cls, streams: Mapping[str, Any] | None = None) -> RouteTable:
        routes = RouteTable.from_streams(
            cls.get_streams() if streams is None else streams, owner=cls.__qualname__
        )
        if not routes:
            raise ImproperlyConfigured(
                f"{cls.__qualname__} has no streams: set `streams = {{'name': Consumer}}` on "
                "the class or pass streams={...} to as_asgi()."
            )
        return routes

    @classmethod
    def as_asgi(cls, streams: Mapping[str, Any] | None = None, **options: Any) -> ASGIApp:
        """An ASGI application serving this gateway; one instance per connection.

        The route table and options are resolved here, once: every connection
        of the returned application shares them, and another ``as_asgi()`` call
        builds its own, so routes never see each other's streams.
        """
        routes = cls.build_routes(streams)
        resolved = DEFAULT_OPTIONS.resolve(cls, options)

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await cls(routes=routes, options=resolved)(scope, receive, send)

        app.gateway_class = cls  # type: ignore[attr-defined]
        app.routes = routes  # type: ignore[attr-defined]
        app.options = resolved  # type: ignore[attr-defined]
        functools.update_wrapper(app, cls, updated=())
        return app
