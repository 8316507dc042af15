"""channelsmultiplexer's module path: ``from gateway.demultiplexer import AsyncJsonWebsocketDemultiplexer``.

channelsmultiplexer documented both ``channelsmultiplexer`` and
``channelsmultiplexer.demultiplexer`` as import paths; this keeps the second
working after the prefix swap. The class lives in :mod:`gateway.compat`.
"""

from __future__ import annotations

from gateway.compat import AsyncJsonWebsocketDemultiplexer

__all__ = ["AsyncJsonWebsocketDemultiplexer"]
