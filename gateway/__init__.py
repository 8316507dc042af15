"""channels-gateway's multiplexer: one websocket, many named streams.

``Gateway`` is the application to mount; ``AsyncJsonWebsocketDemultiplexer`` is
the drop-in name for channelsmultiplexer users; ``gateway.testing`` has the
``GatewayCommunicator`` for tests. The wire contract: ``docs/PROTOCOL.md``.
"""

from gateway.compat import AsyncJsonWebsocketDemultiplexer
from gateway.gateway import Gateway
from gateway.options import GatewayOptions
from gateway.routing import Route, RouteTable, StreamScope

__all__ = [
    "AsyncJsonWebsocketDemultiplexer",
    "Gateway",
    "GatewayOptions",
    "Route",
    "RouteTable",
    "StreamScope",
]
