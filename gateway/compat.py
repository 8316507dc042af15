"""``AsyncJsonWebsocketDemultiplexer`` for users of channelsmultiplexer 0.0.3.

Same name, same ``applications`` table, same ``as_asgi(stream=app, ...)``
keywords and ``application_close_timeout``; the wire format is the same too.
Like channelsmultiplexer it starts every stream on connect and accepts the
socket once the first stream accepts (refusing it when none does).

Deliberate differences, all fixes of channelsmultiplexer defects:

* ``as_asgi(**streams)`` builds a table for that route only; the class's
  ``applications`` is never modified, so two routes do not share streams;
* malformed frames, unknown streams and refused streams get error frames
  instead of closing the socket;
* binary frames get a 400 error frame instead of crashing the connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from gateway.asgi import ASGIApp
from gateway.gateway import Gateway
from gateway.options import OPTION_NAMES

__all__ = ["AsyncJsonWebsocketDemultiplexer"]


class AsyncJsonWebsocketDemultiplexer(Gateway):
    """channelsmultiplexer's demultiplexer on top of :class:`Gateway`.

    ::

        class Demultiplexer(AsyncJsonWebsocketDemultiplexer):
            applications = {"echo": EchoConsumer.as_asgi(), "chat": ChatConsumer}

        path("ws/", Demultiplexer.as_asgi())
        path("ws2/", AsyncJsonWebsocketDemultiplexer.as_asgi(echo=EchoConsumer.as_asgi()))
    """

    applications: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    application_close_timeout: ClassVar[float] = 5
    eager_streams: ClassVar[bool] = True

    __slots__ = ()

    @classmethod
    def get_streams(cls) -> Mapping[str, Any]:
        return {**cls.streams, **cls.applications}

    @classmethod
    def as_asgi(cls, streams: Mapping[str, Any] | None = None, **kwargs: Any) -> ASGIApp:
        """Keywords naming a gateway option set it; every other keyword is a stream.

        ``applications=`` (or ``streams=``) replaces the class's table for this
        route; stream keywords are added to it.
        """
        applications = kwargs.pop("applications", None)
        options = {k: v for k, v in kwargs.items() if k in OPTION_NAMES}
        extra = {k: v for k, v in kwargs.items() if k not in OPTION_NAMES}
        base = streams if streams is not None else applications
        table = {**(cls.get_streams() if base is None else base), **extra}
        return super().as_asgi(streams=table, **options)
