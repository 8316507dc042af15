"""Exceptions DCRF users import from ``exceptions``, under the ``streams`` prefix.

Raise them from actions or hooks like any DRF ``APIException``: the consumer
answers with their status and detail (``streams.errors``); the socket stays
open.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from rest_framework import status
from rest_framework.exceptions import APIException

from streams.errors import ActionError

__all__ = ["ActionError", "ActionMissingException"]


class ActionMissingException(APIException):
    """The message names no action (405, DCRF's text).

    An override of ``get_action_name`` raises it when the key it reads the
    action from is absent.
    """

    status_code = status.HTTP_405_METHOD_NOT_ALLOWED
    default_detail = gettext_lazy("Unable to find action in message body.")
    default_code = "method_not_allowed"
