"""The limits and switches of a gateway, resolved once per mounted route.

Each option is a class attribute of :class:`gateway.Gateway` (override it in a
subclass) and a keyword of ``as_asgi()`` (override it for one route). The
resolved values live in a frozen :class:`GatewayOptions` shared by every
connection of that route, so a connection stores one reference, not a copy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["DEFAULT_OPTIONS", "OPTION_NAMES", "GatewayOptions"]


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    #: Largest client text frame (UTF-8 bytes) the gateway parses; bigger ones
    #: are answered with a 413 error frame without being parsed.
    max_frame_bytes: int = 1024 * 1024
    #: Frames routed to streams but not yet taken by them, per connection.
    #: Beyond it frames are answered with 429 error frames.
    max_in_flight: int = 100
    #: Outgoing frames waiting for a slow client, measured as the length of
    #: their text (plus a small per-frame overhead). Overflow closes the socket
    #: with 1013 and drops what was queued.
    max_outbound_bytes: int = 2 * 1024 * 1024
    #: Protocol errors in a row (not JSON, binary, wrong shape, too big or too
    #: deep) before the socket is closed with 1008. ``None`` never closes.
    max_bad_frames: int | None = 10
    #: Deepest nesting of arrays/objects accepted in a client frame.
    max_json_depth: int = 64
    #: Seconds streams get to finish after the client leaves before they are
    #: cancelled (channelsmultiplexer's name and meaning).
    application_close_timeout: float = 5.0
    #: Seconds the requests in flight get to finish when the process drains
    #: before a restart (``gateway.shutdown``); then the socket closes with 1012.
    shutdown_grace: float = 10.0
    #: Seconds the server gets to send the close frame once the gateway closes
    #: the socket (1013 for a slow reader, 1008, 1012, ...). A client that reads
    #: nothing keeps the server's ``send`` blocked; past this the gateway ends
    #: the connection without the close frame and the server closes the TCP
    #: connection (docs/PROTOCOL.md, "Slow readers").
    close_timeout: float = 5.0
    #: Seconds a stream may take to accept or refuse its connection.
    stream_connect_timeout: float = 10.0
    #: Start every stream on connect (channelsmultiplexer behaviour) instead of
    #: on its first frame.
    eager_streams: bool = False
    #: Encoder for payloads streams send as ``json`` (not for ``text``).
    json_encoder: type[json.JSONEncoder] = json.JSONEncoder
    #: Client frames a connection may send per second, sustained; beyond it
    #: frames are answered with 429 error frames carrying the wait (see
    #: ``gateway.ratelimit``). ``None``: no rate limit.
    max_frames_per_second: float | None = 1000.0
    #: Frames a connection may send at once before ``max_frames_per_second``
    #: applies (the token bucket's size).
    frame_burst: int = 1000

    @classmethod
    def resolve(cls, owner: type, overrides: dict[str, Any] | None = None) -> GatewayOptions:
        """Options from ``owner``'s class attributes, then ``overrides``."""
        values = {name: getattr(owner, name) for name in OPTION_NAMES}
        for name, value in (overrides or {}).items():
            if name not in values:
                raise TypeError(
                    f"{owner.__qualname__}.as_asgi() got an unexpected keyword argument "
                    f"{name!r}. Options are: streams, {', '.join(OPTION_NAMES)}."
                )
            values[name] = value
        options = cls(**values)
        options.validate(owner.__qualname__)
        return options

    def validate(self, owner: str) -> None:
        def positive_int(name: str, value: Any) -> None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{owner}.{name} must be a positive integer, got {value!r}.")

        def positive_number(name: str, value: Any) -> None:
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{owner}.{name} must be a positive number, got {value!r}.")

        positive_int("max_frame_bytes", self.max_frame_bytes)
        positive_int("max_in_flight", self.max_in_flight)
        positive_int("max_outbound_bytes", self.max_outbound_bytes)
        positive_int("max_json_depth", self.max_json_depth)
        if self.max_bad_frames is not None:
            positive_int("max_bad_frames", self.max_bad_frames)
        positive_number("application_close_timeout", self.application_close_timeout)
        positive_number("stream_connect_timeout", self.stream_connect_timeout)
        positive_number("close_timeout", self.close_timeout)
        positive_number("shutdown_grace", self.shutdown_grace)
        if self.max_frames_per_second is not None:
            positive_number("max_frames_per_second", self.max_frames_per_second)
        positive_int("frame_burst", self.frame_burst)
        if not (
            isinstance(self.json_encoder, type) and issubclass(self.json_encoder, json.JSONEncoder)
        ):
            raise ValueError(
                f"{owner}.json_encoder must be a json.JSONEncoder subclass, "
                f"got {self.json_encoder!r}."
            )


OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in fields(GatewayOptions))
#: The defaults, which ``gateway.Gateway`` exposes as class attributes.
DEFAULT_OPTIONS = GatewayOptions()
