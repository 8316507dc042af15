"""Replies: the five-key DCRF reply frame, error replies, and how they are encoded.

A consumer's every answer goes through :meth:`RepliesMixin.reply`, so the shape
``{"errors", "data", "action", "response_status", "request_id"}`` is made in
one place, and every failure through :meth:`RepliesMixin.handle_exception`, so
it is logged and formatted alike (``streams.errors.exception_to_reply``).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from rest_framework.utils.encoders import JSONEncoder

from streams.errors import SERVER_ERROR_MESSAGE, exception_to_reply
from streams.settings import api_settings

logger = logging.getLogger("streams.consumers")

# ASGI extension the gateway sets when it accepts decoded JSON in "json" keys.
GATEWAY_JSON_EXTENSION = "channels_gateway.json"


def bounded_request_id(request_id: Any) -> bool:
    """Is ``request_id`` small enough, and JSON enough, to echo back?

    A string is measured in characters, anything else as the JSON the reply
    would carry. ``NaN`` and infinities (Python reads ``1e309`` as infinity)
    have no JSON form, so they are refused too.
    """
    if request_id is None or isinstance(request_id, bool):
        return True
    limit = api_settings.MAX_REQUEST_ID_LENGTH
    if isinstance(request_id, str):
        return len(request_id) <= limit
    if isinstance(request_id, int) and -(10**15) < request_id < 10**15:
        return True
    try:
        return len(json.dumps(request_id, allow_nan=False)) <= limit
    except (TypeError, ValueError):
        return False


class RepliesMixin:
    """Reply frames for ``AsyncAPIConsumer`` (transport: ``send``/``base_send``)."""

    if TYPE_CHECKING:
        scope: Any
        base_send: Any

        async def send(
            self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
        ) -> None: ...

        async def close(
            self, code: int | bool | None = None, reason: str | None = None
        ) -> None: ...

    async def _reply_result(self, action: str, request_id: Any, result: Any) -> None:
        # DCRF sends a reply only for a (data, status) tuple; anything else means
        # the action replied (or chose not to) itself.
        if isinstance(result, tuple) and len(result) == 2:
            data, status = result
            await self.reply(action=action, data=data, status=status, request_id=request_id)

    async def handle_exception(self, exc: Exception, action: str | None, request_id: Any) -> None:
        """Turn ``exc`` into an error reply; unexpected errors are logged, not shown.

        The log record names the stream (under a gateway), the action and the
        request_id, in the message and as record attributes (``stream``,
        ``action``, ``request_id``) for structured log handlers.
        """
        status, errors = exception_to_reply(exc)
        if status >= 500:
            stream = getattr(self.scope.get("gateway"), "stream", None)
            logger.error(
                "%s: action %r (stream %r, request_id %r) failed",
                type(self).__qualname__,
                action,
                stream,
                request_id,
                exc_info=exc,
                extra={"stream": stream, "action": action, "request_id": request_id},
            )
        await self.reply(action=action, errors=errors, status=status, request_id=request_id)

    # ------------------------------------------------------------------- send
    async def reply(
        self,
        action: str | None,
        data: Any = None,
        errors: list[Any] | None = None,
        status: int = 200,
        request_id: Any = None,
    ) -> None:
        await self.send_json(
            {
                "errors": errors if errors is not None else [],
                "data": data,
                "action": action,
                "response_status": status,
                "request_id": request_id,
            }
        )

    async def send_json(self, content: Any, close: bool = False) -> None:
        if GATEWAY_JSON_EXTENSION in self.scope.get("extensions", {}):
            await self.base_send({"type": "websocket.send", "json": content})
            if close:
                await self.close(close)
            return
        try:
            text = await self.encode_json(content)
        except (TypeError, ValueError, RecursionError):
            # Standalone there is no gateway to turn this into a 500 frame, and
            # the exception would end the frame worker, silently dropping the
            # frames queued behind this one. Answer like the gateway does.
            logger.exception("%s: a reply cannot be encoded as JSON", type(self).__qualname__)
            action, request_id = (
                (content.get("action"), content.get("request_id"))
                if isinstance(content, dict)
                else (None, None)
            )
            text = await self.encode_json(
                {
                    "errors": [SERVER_ERROR_MESSAGE],
                    "data": None,
                    "action": action if isinstance(action, str) else None,
                    "response_status": 500,
                    "request_id": request_id if bounded_request_id(request_id) else None,
                }
            )
        await self.send(text_data=text, close=close)

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        # DRF's encoder handles what serializers may leave in data (Decimal,
        # datetime, UUID, lazy strings...).
        return json.dumps(content, cls=JSONEncoder)
