"""channels-gateway's multiplexer: one websocket, many named streams.

``Gateway`` is the application to mount; ``AsyncJsonWebsocketDemultiplexer`` is
the drop-in name for channelsmultiplexer users; ``gateway.testing`` has the
``GatewayCommunicator`` for tests. The wire contract: ``docs/PROTOCOL.md``.
"""

# The one place the version is written: setup.cfg reads it (`attr:`), and so
# do the documentation and the changelog check.
__version__ = "0.1.0"

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
    "__version__",
]
