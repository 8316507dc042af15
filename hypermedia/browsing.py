"""Browsing: send a link back down the socket and get the reply.

A link is a frame without its ``request_id``; :func:`follow` adds one, sends
it, and waits for the reply that carries it, so replies and events of other
requests interleaved on the socket are left for their own readers.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = ["LinkClient", "follow"]

DEFAULT_TIMEOUT = 1.0


@runtime_checkable
class LinkClient(Protocol):
    """A connected client of a gateway, e.g. ``gateway.testing.GatewayCommunicator``."""

    async def send_to(self, stream: str, payload: Any) -> None: ...

    async def receive_from(
        self,
        stream: str | None = None,
        request_id: Any = None,
        timeout: float = 1,  # noqa: ASYNC109
    ) -> Any: ...


def _check_link(link: Any) -> tuple[str, dict[str, Any]]:
    if link is None:
        raise ValueError(
            "Cannot follow a null link: no stream serves that model on this connection."
        )
    if not isinstance(link, Mapping):
        raise TypeError(f"A link is a {{'stream': ..., 'payload': {{...}}}} object, got {link!r}.")
    stream, payload = link.get("stream"), link.get("payload")
    if not isinstance(stream, str) or not isinstance(payload, Mapping):
        raise TypeError(
            f"A link has a string 'stream' and an object 'payload', got {dict(link)!r}."
        )
    if not isinstance(payload.get("action"), str):
        raise TypeError(f"A link's payload names an 'action', got {dict(payload)!r}.")
    return stream, dict(payload)


async def follow(
    client: LinkClient,
    link: Mapping[str, Any] | None,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (the communicator's own API)
    request_id: Any = None,
) -> Any:
    """Send ``link`` through ``client`` and return the reply's payload.

    The payload is the stream's whole reply (``data``, ``errors``,
    ``response_status``...), so a 404 or 403 is returned, not raised. A fresh
    ``request_id`` is added unless one is given. Raises ``ValueError`` for a
    null link, ``TypeError`` for something that is not a link or a client
    without ``send_to``/``receive_from``, and ``TimeoutError`` when no reply
    comes within ``timeout`` seconds.
    """
    if not isinstance(client, LinkClient):
        raise TypeError(
            f"follow() needs a connected gateway client with send_to() and receive_from() "
            f"(e.g. gateway.testing.GatewayCommunicator), got {type(client).__name__}."
        )
    stream, payload = _check_link(link)
    if request_id is None:
        request_id = f"follow-{uuid.uuid4().hex}"
    payload["request_id"] = request_id
    await client.send_to(stream, payload)
    return await client.receive_from(stream=stream, request_id=request_id, timeout=timeout)
