"""How exceptions become reply frames: ``(response_status, errors)``.

Kept apart from the consumer so that every place that must answer a failure
(actions, observers, the gateway) formats it the same way.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework.exceptions import APIException, PermissionDenied

NOT_FOUND_MESSAGE = "Not found"
SERVER_ERROR_MESSAGE = "Internal server error."
UNAVAILABLE_MESSAGE = "Service temporarily unavailable; try again later."


class ActionError(APIException):
    """A client error raised by the framework itself, with an explicit status."""

    status_code = 400
    default_detail = "Bad request."
    default_code = "bad_request"

    def __init__(self, detail: Any = None, status: int = 400) -> None:
        super().__init__(detail)
        self.status_code = status


def format_errors(detail: Any) -> list[Any]:
    """DCRF's shape: a dict detail is wrapped in a list, a list stays, a string is listed."""
    if isinstance(detail, dict):
        return [detail]
    if isinstance(detail, list | tuple):
        return list(detail)
    return [detail]


def exception_to_reply(exc: BaseException) -> tuple[int, list[Any]]:
    if isinstance(exc, APIException):
        return exc.status_code, format_errors(exc.detail)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return 404, [NOT_FOUND_MESSAGE]
    if isinstance(exc, DjangoPermissionDenied):
        return 403, [PermissionDenied.default_detail]
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return 400, [exc.message_dict]
        return 400, list(exc.messages)
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is down or overloaded: tell the client to retry.
        return 503, [UNAVAILABLE_MESSAGE]
    return 500, [SERVER_ERROR_MESSAGE]
