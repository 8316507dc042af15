"""The gateway's wire format: ``{"stream": NAME, "payload": {...}}`` both ways.

Decoding is defensive because every byte here is client-controlled: size and
nesting are checked before ``json.loads`` so a hostile frame costs a bounded
amount of work and never a ``RecursionError``. Encoding builds each outgoing
frame exactly once; a stream that already produced JSON text has it spliced in
verbatim instead of being decoded and encoded again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

__all__ = [
    "ECHO_LIMIT",
    "FrameError",
    "InboundFrame",
    "decode_frame",
    "encode_error",
    "encode_frame",
    "nesting_exceeds",
    "readable_meta",
    "sniff_stream",
    "splice_frame",
]

#: Client-supplied strings (stream names, actions, request ids) longer than this
#: are not echoed back in error frames: an error must not amplify a big input.
ECHO_LIMIT = 1024

# A JSON string literal, escapes included ("unrolled loop" form: linear, no
# backtracking blow-up on long strings).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
# A frame that starts with its stream key, e.g. '{"stream": "books", ...'.
_LEADING_STREAM = re.compile(r'\s*\{\s*"stream"\s*:\s*"([^"\\]{1,200})"')


class FrameError(Exception):
    """A client frame the gateway answers with an error frame instead of routing."""

    def __init__(
        self,
        message: str,
        status: int = 400,
        *,
        stream: str | None = None,
        action: str | None = None,
        request_id: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.stream = stream
        self.action = action
        self.request_id = request_id


@dataclass(frozen=True, slots=True)
class InboundFrame:
    """A decoded client frame, with the reply metadata read from its payload."""

    stream: str
    payload: dict[str, Any]
    action: str | None
    request_id: Any


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python accepts them by default and would
    # then send them on to other clients that cannot parse them.
    raise ValueError(f"{name} is not valid JSON")


def nesting_exceeds(text: str, limit: int) -> bool:
    """Is the JSON ``text`` nested deeper than ``limit`` arrays/objects?

    Works without recursion and in linear time: string literals are dropped
    (brackets inside them do not nest), then the running depth over the
    remaining brackets is accumulated in C (``itertools.accumulate``).
    """
    if text.count("[") + text.count("{") <= limit:
        return False  # cannot be deeper than the number of openers
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)).encode("ascii")
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0) > limit


def echoable(value: Any) -> bool:
    """Can ``value`` be echoed in an error frame (a bounded JSON scalar)?"""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return len(str(abs(value))) <= ECHO_LIMIT
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    return isinstance(value, str) and len(value) <= ECHO_LIMIT


def readable_meta(payload: Any) -> tuple[str | None, Any]:
    """``(action, request_id)`` of ``payload`` where they are safe to echo."""
    if not isinstance(payload, dict):
        return None, None
    action = payload.get("action")
    request_id = payload.get("request_id")
    if not (isinstance(action, str) and len(action) <= ECHO_LIMIT):
        action = None
    if not echoable(request_id):
        request_id = None
    return action, request_id


def sniff_stream(text: str) -> str | None:
    """The stream name of a frame that is not going to be parsed (too big).

    Only a frame that *begins* with its ``"stream"`` key is read, from a short
    prefix, so the answer costs nothing and cannot be fooled by nested keys.
    """
    match = _LEADING_STREAM.match(text, 0, 256)
    return match.group(1) if match else None


def decode_frame(text: str, *, max_depth: int) -> InboundFrame:
    """Parse one client text frame or raise :class:`FrameError` (status 400)."""
    if nesting_exceeds(text, max_depth):
        raise FrameError(f"Frame is nested deeper than {max_depth} levels.")
    try:
        frame = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise FrameError("Frame is not valid JSON.") from None
    if not isinstance(frame, dict):
        raise FrameError('Frame must be a JSON object: {"stream": NAME, "payload": {...}}.')
    stream = frame.get("stream")
    payload = frame.get("payload")
    action, request_id = readable_meta(payload)
    if not isinstance(stream, str) or not stream:
        raise FrameError(
            'Frame has no "stream" (a non-empty string).', action=action, request_id=request_id
        )
    echo_stream = stream if len(stream) <= ECHO_LIMIT else None
    if "payload" not in frame:
        raise FrameError('Frame has no "payload".', stream=echo_stream)
    if not isinstance(payload, dict):
        raise FrameError('"payload" must be a JSON object.', stream=echo_stream)
    return InboundFrame(stream=stream, payload=payload, action=action, request_id=request_id)


def error_payload(
    message: str, status: int, action: str | None = None, request_id: Any = None
) -> dict[str, Any]:
    """The reply shape every stream uses, carrying one gateway error."""
    return {
        "errors": [message],
        "data": None,
        "action": action,
        "response_status": status,
        "request_id": request_id,
    }


def encode_error(
    stream: str | None,
    message: str,
    status: int,
    action: str | None = None,
    request_id: Any = None,
) -> str:
    return json.dumps(
        {"stream": stream, "payload": error_payload(message, status, action, request_id)}
    )


def encode_frame(stream: str, payload: Any, encoder: type[json.JSONEncoder]) -> str:
    """Encode a whole outgoing frame in one pass."""
    return json.dumps({"stream": stream, "payload": payload}, cls=encoder)


def splice_frame(stream: str, payload_text: str) -> str | None:
    """Wrap a stream's JSON text without decoding it, or ``None`` if it is not JSON.

    The fast path trusts text that looks like an object (``{...}``), which is
    what every JSON consumer sends. Anything else is parsed once to decide: a
    JSON value is re-encoded as the payload, non-JSON text gives ``None``.
    """
    head = payload_text.lstrip()[:1]
    tail = payload_text.rstrip()[-1:]
    if head == "{" and tail == "}":
        return '{"stream":' + json.dumps(stream) + ',"payload":' + payload_text + "}"
    try:
        value = json.loads(payload_text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    return json.dumps({"stream": stream, "payload": value})
