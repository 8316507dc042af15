"""DCRF's ``consumers`` module path: ``AsyncAPIConsumer`` and ``view_as_consumer``.

DCRF users import both from here. The consumer is defined in
:mod:`streams.api_consumer` and the view adapter, which builds on it, in
:mod:`streams.views`; re-exporting both from this third module keeps the
path without an import cycle between the two.
"""

from streams.api_consumer import (
    GATEWAY_JSON_EXTENSION,
    LAYER_RETRY_MAX,
    LAYER_RETRY_MIN,
    MISSING_ACTION_MESSAGE,
    RESERVED_KWARGS,
    APIConsumerMetaclass,
    AsyncAPIConsumer,
    RegisteredAction,
)
from streams.views import DjangoViewAsConsumer, view_as_consumer

__all__ = [
    "GATEWAY_JSON_EXTENSION",
    "LAYER_RETRY_MAX",
    "LAYER_RETRY_MIN",
    "MISSING_ACTION_MESSAGE",
    "RESERVED_KWARGS",
    "APIConsumerMetaclass",
    "AsyncAPIConsumer",
    "DjangoViewAsConsumer",
    "RegisteredAction",
    "view_as_consumer",
]
