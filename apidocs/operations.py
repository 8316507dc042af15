"""What the inspector produces, and what it reads it from.

:class:`Operation` (one action of one stream, with the :class:`Push` messages a
subscription sends later) is what :mod:`apidocs.document` turns into AsyncAPI;
:class:`StreamContext` is the stream a :class:`apidocs.inspector.ConsumerSchema`
describes: its route, the route table, the document's components, and a
consumer instance to ask its hooks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AnonymousUser

from apidocs.schemas import SerializerSchemas
from gateway.routing import Route, RouteTable, StreamScope

__all__ = ["Operation", "Push", "StreamContext"]


@dataclass
class Push:
    """A message a subscription sends later, with the subscribe's ``request_id``."""

    action: str
    status: int
    data: dict[str, Any]
    description: str = ""


@dataclass
class Operation:
    """One action of one stream, as the document describes it."""

    action: str
    summary: str = ""
    description: str = ""
    #: payload key -> JSON schema (besides ``action`` and ``request_id``)
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)
    #: Whether keys other than ``parameters`` are accepted (``**kwargs``).
    open_parameters: bool = True
    #: Schema of the success reply's ``data``.
    reply: dict[str, Any] = field(default_factory=dict)
    #: Optional keys of the success reply besides the five (e.g. ``positions``).
    reply_extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: tuple[int, ...] = (200,)
    #: Several replies share the request's ``request_id`` (streamed lists).
    streamed: bool = False
    pushes: list[Push] = field(default_factory=list)
    #: The HTTP method permission classes see for this action.
    method: str | None = None


@dataclass
class StreamContext:
    """One stream being described: its route, consumer and the document's components."""

    name: str
    route: Route
    routes: RouteTable
    schemas: SerializerSchemas
    ws_path: str = "/"

    @property
    def consumer_class(self) -> type | None:
        return self.route.consumer_class

    def instance(self) -> Any:
        """A consumer instance on a made-up anonymous scope, to ask its hooks.

        Nothing runs on it but ``get_*`` hooks (serializer class, context,
        filter backends); it never connects.
        """
        cached = self.__dict__.get("_instance")
        if cached is None:
            consumer_class = self.consumer_class
            try:
                # With the route's as_asgi(**initkwargs) when the gateway knows them.
                cached = self.route.new_instance()
                if cached is None and consumer_class is not None:
                    cached = consumer_class()
            except Exception as exc:
                raise TypeError(
                    f"AsyncAPI: cannot create {consumer_class!r} (stream {self.name!r}) to ask "
                    f"its hooks: {exc}. Mount it as Consumer.as_asgi(**initkwargs), or give it "
                    "an asyncapi_schema (apidocs.inspector.ConsumerSchema) that does not."
                ) from exc
            if cached is not None:
                cached.scope = {
                    "type": "websocket",
                    "path": self.ws_path,
                    "headers": [],
                    "query_string": b"",
                    "user": AnonymousUser(),
                    "gateway": StreamScope(self.routes, self.name),
                }
            self.__dict__["_instance"] = cached
        return cached
