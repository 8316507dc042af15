"""Schemas of the wire format itself (``docs/PROTOCOL.md``), shared by every stream.

Kept apart from the per-stream builder: these describe the gateway's
contract (frames, replies, error frames, links), which holds whatever
consumers a project mounts.
"""

from __future__ import annotations

from typing import Any

from apidocs.schemas import LINK_SCHEMA_NAME, component_ref

__all__ = [
    "ERROR_REPLY",
    "GATEWAY_ERROR",
    "GATEWAY_STATUSES",
    "POSITION",
    "REQUEST_ID",
    "RESUME",
    "RESUME_RESULT",
    "base_schemas",
    "frame",
]

REQUEST_ID = "RequestId"
POSITION = "Position"
RESUME = "Resume"
RESUME_RESULT = "ResumeResult"
ERROR_REPLY = "ErrorReply"
GATEWAY_ERROR = "GatewayError"

#: Statuses of the gateway's own error frames (PROTOCOL.md section 4).
GATEWAY_STATUSES = (400, 403, 404, 410, 413, 429, 500)


def frame(stream: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """The schema of a whole frame: ``{"stream": ..., "payload": ...}``."""
    return {
        "type": "object",
        "required": ["stream", "payload"],
        "properties": {"stream": stream, "payload": payload},
    }


def base_schemas() -> dict[str, dict[str, Any]]:
    """``components.schemas`` every document has."""
    return {
        LINK_SCHEMA_NAME: {
            "title": "Link",
            "description": (
                "A hypermedia link: the frame that fetches the resource, without a "
                "request_id. Send it back (adding a request_id) to follow it: a `retrieve` "
                "link gets one object, a `list` link the related objects."
            ),
            "type": "object",
            "required": ["stream", "payload"],
            "properties": {
                "stream": {"type": "string", "minLength": 1},
                "payload": {
                    "type": "object",
                    "required": ["action"],
                    "properties": {"action": {"type": "string"}},
                    "additionalProperties": True,
                },
            },
            "examples": [{"stream": "books", "payload": {"action": "retrieve", "pk": 42}}],
        },
        REQUEST_ID: {
            "title": "Request id",
            "description": (
                "Chosen by the client, echoed in every reply (and in every push of a "
                "subscription). Any JSON scalar; strings up to 1024 characters."
            ),
            "type": ["string", "integer", "number", "boolean", "null"],
            "maxLength": 1024,
        },
        POSITION: {
            "title": "Position",
            "description": (
                "Where a push sits in its subscription group's history (observers that "
                "keep one; docs/PROTOCOL.md, resuming subscriptions)."
            ),
            "type": "object",
            "required": ["group", "epoch", "offset"],
            "properties": {
                "group": {"type": "string"},
                "epoch": {"type": "string"},
                "offset": {"type": "integer", "minimum": 0},
            },
        },
        RESUME: {
            "title": "Resume",
            "description": (
                "Renew a subscription after a reconnect: for each group, the epoch and "
                "offset of the last push received (or of the subscribe reply's positions)."
            ),
            "type": "object",
            "maxProperties": 64,
            "propertyNames": {"maxLength": 32},
            "additionalProperties": {
                "type": "array",
                "minItems": 2,
                "maxItems": 2,
                "items": [
                    {"type": "string", "maxLength": 64},
                    {"type": "integer", "minimum": 0},
                ],
            },
        },
        RESUME_RESULT: {
            "title": "Resume result",
            "type": "object",
            "required": ["recovered", "reason"],
            "properties": {
                "recovered": {"type": "boolean"},
                "reason": {"enum": [None, "expired", "epoch", "unknown", "disabled"]},
            },
        },
        ERROR_REPLY: {
            "title": "Error reply",
            "description": (
                "A failed action: 400 bad arguments or validation errors, 403 permission "
                "denied, 404 not found, 405 unknown action, 429 a cap reached, 500 a server "
                "error (logged, never detailed), 503 database or channel layer unavailable."
            ),
            "type": "object",
            "required": ["errors", "data", "action", "response_status", "request_id"],
            "properties": {
                "errors": {
                    "type": "array",
                    "minItems": 1,
                    "description": "Messages, or one object of field -> messages.",
                },
                "data": {"type": "null"},
                "action": {"type": ["string", "null"]},
                "response_status": {"type": "integer", "minimum": 400, "maximum": 599},
                "request_id": component_ref(REQUEST_ID),
            },
            "examples": [
                {
                    "errors": ["Not found"],
                    "data": None,
                    "action": "retrieve",
                    "response_status": 404,
                    "request_id": 7,
                }
            ],
        },
        GATEWAY_ERROR: {
            "title": "Gateway error frame",
            "description": (
                "Sent by the gateway itself, not by a stream: malformed frames (400), a "
                "refused stream (403), an unknown stream (404), a closed stream (410), a "
                "frame too large (413), too many requests in flight (429), a crashed "
                "consumer (500). `stream`, `action` and `request_id` are echoed when "
                "they can be read, else null."
            ),
            "type": "object",
            "required": ["stream", "payload"],
            "properties": {
                "stream": {"type": ["string", "null"]},
                "payload": {
                    "type": "object",
                    "required": ["errors", "data", "action", "response_status", "request_id"],
                    "properties": {
                        "errors": {
                            "type": "array",
                            "items": {"type": "string"},
                            "minItems": 1,
                            "maxItems": 1,
                        },
                        "data": {"type": "null"},
                        "action": {"type": ["string", "number", "boolean", "null"]},
                        "response_status": {"type": "integer", "enum": list(GATEWAY_STATUSES)},
                        "request_id": component_ref(REQUEST_ID),
                    },
                },
            },
            "examples": [
                {
                    "stream": "bokks",
                    "payload": {
                        "errors": ["Unknown stream 'bokks'."],
                        "data": None,
                        "action": "list",
                        "response_status": 404,
                        "request_id": 4,
                    },
                }
            ],
        },
    }
