"""What a stream's consumer offers: one :class:`Operation` per action.

:class:`ConsumerSchema` is the extension point, in the spirit of DRF's
``AutoSchema`` on a view: a consumer class may set
``asyncapi_schema = MySchema()`` and override any ``get_*`` method. Without
one, the default reads:

- the consumer's docstring (the stream's description) and each action
  method's docstring (first line: summary, the rest: description);
- the contract of the mixin an action comes from (``streams.mixins``,
  ``streams.observer.generics``, ``streams.views``): lookup key, ``data``
  from the serializer, filters from ``filter_backends``, ``limit``/``offset``
  from ``pagination_class``, the reply's ``data``, the pushes of a
  subscription;
- for any other action, its signature (parameters, defaults, annotations);
- ``@action(asyncapi={...})``: ``summary``, ``description``, ``parameters``
  (``{key: schema}``), ``required`` (keys), ``reply`` (schema of ``data``),
  ``pushes`` (``[{"action", "status", "data", "description"}]``), merged over
  what was found.

The contracts are matched by action name *and* the mixin class the consumer
inherits, so an overriding ``retrieve`` in a subclass keeps its description.
"""

from __future__ import annotations

import inspect
import logging
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Model
from rest_framework import filters as drf_filters

from apidocs.schemas import SerializerSchemas, component_ref, model_field_schema
from apidocs.wire import POSITION, RESUME, RESUME_RESULT
from gateway.routing import Route, RouteTable, StreamScope
from streams import mixins
from streams.filters import DRFFilterBackendAdapter, FieldFilterBackend
from streams.observer.generics import ObserverModelInstanceMixin, ObserverModelListMixin
from streams.registry import RegisteredAction
from streams.scope_utils import method_for_action
from streams.views import DjangoViewAsConsumer

__all__ = [
    "ConsumerSchema",
    "Operation",
    "Push",
    "StreamContext",
    "consumer_schema_for",
]

logger = logging.getLogger(__name__)

#: Keys every request may carry besides the action's own.
FRAME_KEYS = frozenset({"action", "request_id"})

_LIST_LOOKUPS = frozenset({"in", "range"})


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


def _docstring(obj: Any) -> tuple[str, str]:
    """``(summary, description)`` from ``obj``'s docstring."""
    doc = inspect.getdoc(obj) or ""
    if not doc:
        return "", ""
    first, _, rest = doc.partition("\n\n")
    return " ".join(first.split()), rest.strip()


class ConsumerSchema:
    """Describes one consumer class's stream; override ``get_*`` to change it."""

    def get_description(self, context: StreamContext) -> str:
        consumer_class = context.consumer_class
        if consumer_class is None:
            return "An ASGI application mounted as a stream: any JSON payload, either way."
        if isinstance(consumer_class, type) and issubclass(consumer_class, DjangoViewAsConsumer):
            view = next(iter(consumer_class.view_routes.values())).view
            target = getattr(view, "view_class", None) or getattr(view, "cls", None) or view
            return inspect.getdoc(target) or ""
        # Its own docstring only: an inherited one describes a mixin, not the stream.
        own_doc = consumer_class.__dict__.get("__doc__")
        return inspect.cleandoc(own_doc) if own_doc else ""

    def get_operations(self, context: StreamContext) -> list[Operation]:
        consumer_class = context.consumer_class
        registry: Mapping[str, RegisteredAction] = getattr(consumer_class, "actions", {}) or {}
        return [self.get_operation(context, name, registry[name]) for name in sorted(registry)]

    def get_operation(
        self, context: StreamContext, name: str, entry: RegisteredAction
    ) -> Operation:
        consumer_class = context.consumer_class
        operation = Operation(action=name, method=self.get_method(context, name, entry))
        if isinstance(consumer_class, type) and issubclass(consumer_class, DjangoViewAsConsumer):
            self.describe_view_action(context, name, operation)
        else:
            method = getattr(consumer_class, entry.attribute, None)
            operation.summary, operation.description = _docstring(method)
            if not self.describe_known_action(context, name, operation):
                self.describe_from_signature(_signature(method, entry), operation)
        extra = getattr(entry.spec, "extra", None) or {}
        self.apply_overrides(operation, extra.get("asyncapi"))
        return operation

    def get_method(self, context: StreamContext, name: str, entry: RegisteredAction) -> str:
        consumer_class = context.consumer_class
        if isinstance(consumer_class, type) and issubclass(consumer_class, DjangoViewAsConsumer):
            return consumer_class.view_routes[name].method
        # @action(method=...), else a CRUD name's verb, else what undeclared
        # custom actions count as: the rule permissions apply.
        return method_for_action(name, consumer_class)

    # ------------------------------------------------------------ contracts
    def describe_known_action(self, context: StreamContext, name: str, op: Operation) -> bool:
        """Fill ``op`` from the contract of the streams mixin behind ``name``, if any."""
        cls = context.consumer_class
        if not isinstance(cls, type):
            return False
        if name == "list" and issubclass(cls, mixins.ListModelMixin):
            op.parameters.update(self.get_filter_parameters(context))
            items = self.serializer_ref(context, name, "reply")
            listed: dict[str, Any] = {"type": "array", "items": items}
            paginated = issubclass(cls, mixins.PaginatedModelListMixin) and (
                context.instance().pagination_class is not None
            )
            if paginated:
                op.parameters.update(self.get_pagination_parameters(context))
                op.reply = _page_schema(
                    listed, streamed=issubclass(cls, mixins.StreamedPaginatedListMixin)
                )
                if issubclass(cls, mixins.StreamedPaginatedListMixin):
                    op.streamed = True
                    op.description = op.description or (
                        "One reply per page, each with this request's request_id; the last "
                        "page has `last: true`. `list_cancel` with the same request_id stops it."
                    )
            else:
                op.reply = listed
            return True
        if name == "list_cancel" and issubclass(cls, mixins.StreamedPaginatedListMixin):
            op.reply = {"type": "null"}
            return True
        if name == "retrieve" and issubclass(cls, mixins.RetrieveModelMixin):
            self._lookup(context, op)
            op.reply = self.serializer_ref(context, name, "reply")
            return True
        if name == "create" and issubclass(cls, mixins.CreateModelMixin):
            op.parameters["data"] = self.serializer_ref(context, name, "request")
            op.required.append("data")
            op.reply = self.serializer_ref(context, name, "reply")
            op.statuses = (201,)
            return True
        if name in ("update", "patch") and issubclass(
            cls, mixins.UpdateModelMixin if name == "update" else mixins.PatchModelMixin
        ):
            self._lookup(context, op)
            direction = "request" if name == "update" else "patch"
            op.parameters["data"] = self.serializer_ref(context, name, direction)
            op.required.append("data")
            op.reply = self.serializer_ref(context, name, "reply")
            return True
        if name == "delete" and issubclass(cls, mixins.DeleteModelMixin):
            self._lookup(context, op)
            op.reply = {"type": "null"}
            op.statuses = (204,)
            return True
        if name == "subscribe_instance" and issubclass(cls, ObserverModelInstanceMixin):
            self._lookup(context, op)
            op.parameters["snapshot"] = _snapshot_schema("the current object")
            _resumable(op)
            item = self.serializer_ref(context, "retrieve", "reply")
            op.reply = {"anyOf": [{"type": "null"}, item]}
            op.statuses = (201,)
            op.pushes = [
                Push("update", 200, item, "The object changed (its new state)."),
                Push("delete", 204, _pk_only(context), "The object was deleted."),
            ]
            return True
        if name == "unsubscribe_instance" and issubclass(cls, ObserverModelInstanceMixin):
            self._lookup(context, op)
            op.reply = {"type": "null"}
            op.statuses = (204,)
            return True
        if name == "subscribe_list" and issubclass(cls, ObserverModelListMixin):
            op.parameters.update(self.get_filter_parameters(context))
            op.parameters["snapshot"] = _snapshot_schema("the current list")
            _resumable(op)
            item = self.serializer_ref(context, "list", "reply")
            op.reply = {"anyOf": [{"type": "null"}, {"type": "array", "items": item}]}
            op.statuses = (201,)
            op.pushes = [
                Push("create", 201, item, "An object entered the filtered set."),
                Push("update", 200, item, "An object of the set changed."),
                Push("delete", 204, _pk_only(context), "An object left the set or was deleted."),
            ]
            return True
        if name == "unsubscribe_list" and issubclass(cls, ObserverModelListMixin):
            op.reply = {"type": "null"}
            op.statuses = (204,)
            return True
        return False

    def describe_view_action(self, context: StreamContext, name: str, op: Operation) -> None:
        """``view_as_consumer``: the request's parts, the view's response as ``data``."""
        op.parameters.update(
            {
                "query": {
                    "type": "object",
                    "description": "Query parameters (request.GET).",
                    "additionalProperties": {
                        "anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}]
                    },
                },
                "parameters": {
                    "type": "object",
                    "description": "The view's keyword arguments (its URL parameters).",
                },
                "data": {"description": "The request body (JSON)."},
            }
        )
        op.open_parameters = True
        view = context.consumer_class.view_routes[name].view  # type: ignore[union-attr]
        view_name = getattr(view, "__name__", "view")
        op.summary = f"{op.method} {view_name}: the view's response data is the reply's data."

    def describe_from_signature(self, signature: inspect.Signature, op: Operation) -> None:
        """A custom action: its parameters, from the method's signature."""
        op.open_parameters = False
        for parameter in list(signature.parameters.values())[1:]:
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                op.open_parameters = True
                continue
            if parameter.kind is inspect.Parameter.VAR_POSITIONAL or parameter.name in FRAME_KEYS:
                continue
            schema = _annotation_schema(parameter.annotation)
            if parameter.default is inspect.Parameter.empty:
                op.required.append(parameter.name)
            elif _is_json(parameter.default):
                schema = {**schema, "default": parameter.default}
            op.parameters[parameter.name] = schema

    def apply_overrides(self, op: Operation, overrides: Any) -> None:
        """``@action(asyncapi={...})`` wins over what was found."""
        if not overrides:
            return
        if not isinstance(overrides, Mapping):
            raise TypeError(
                f"@action(asyncapi=...) of {op.action!r} must be a dict such as "
                "{'summary': ..., 'parameters': {...}, 'reply': {...}}, "
                f"got {type(overrides).__name__}."
            )
        if "summary" in overrides:
            op.summary = str(overrides["summary"])
        if "description" in overrides:
            op.description = str(overrides["description"])
        op.parameters.update(dict(overrides.get("parameters", {})))
        for key in overrides.get("required", ()):
            if key not in op.required:
                op.required.append(key)
        if "reply" in overrides:
            op.reply = dict(overrides["reply"])
        if "statuses" in overrides:
            op.statuses = tuple(overrides["statuses"])
        for push in overrides.get("pushes", ()):
            op.pushes.append(
                Push(
                    action=push["action"],
                    status=int(push.get("status", 200)),
                    data=dict(push.get("data", {})),
                    description=str(push.get("description", "")),
                )
            )

    # --------------------------------------------------------------- pieces
    def serializer_ref(self, context: StreamContext, action: str, direction: Any) -> dict[str, Any]:
        """The component for the action's serializer, or "any JSON" when there is none."""
        consumer = context.instance()
        get_serializer = getattr(consumer, "get_serializer", None)
        if get_serializer is None:
            return {}
        try:
            serializer = get_serializer(action_kwargs={"action": action})
        except Exception as exc:  # a hook that needs a real request or user
            logger.warning(
                "AsyncAPI: %s.get_serializer(action=%r) failed (%s); its data is described "
                "as any JSON. Give the consumer an asyncapi_schema to describe it.",
                type(consumer).__qualname__,
                action,
                exc,
            )
            return {}
        return context.schemas.component(serializer, direction)

    def get_lookup(self, context: StreamContext) -> tuple[str, dict[str, Any]]:
        consumer = context.instance()
        key = str(
            getattr(consumer, "lookup_url_kwarg", None) or getattr(consumer, "lookup_field", "pk")
        )
        model = _model_of(consumer)
        schema: dict[str, Any] = {"type": ["integer", "string"]}
        if model is not None:
            lookup_field = getattr(consumer, "lookup_field", "pk")
            model_field = _model_field(model, lookup_field)
            if model_field is not None:
                schema = model_field_schema(model_field)
        return key, {**schema, "description": "Which object (the stream's lookup field)."}

    def get_filter_parameters(self, context: StreamContext) -> dict[str, dict[str, Any]]:
        """Filter keys every ``filter_backends`` entry accepts, with their schemas."""
        consumer = context.instance()
        parameters: dict[str, dict[str, Any]] = {}
        for backend in getattr(consumer, "filter_backends", None) or ():
            parameters.update(self.get_backend_parameters(consumer, backend))
        return parameters

    def get_backend_parameters(self, consumer: Any, backend: Any) -> dict[str, dict[str, Any]]:
        """One backend's keys. A backend may describe itself with
        ``get_asyncapi_parameters(consumer) -> {key: schema}``."""
        if isinstance(backend, DRFFilterBackendAdapter):
            backend = backend.backend
        instance = backend() if isinstance(backend, type) else backend
        own = getattr(instance, "get_asyncapi_parameters", None)
        if callable(own):
            return dict(own(consumer))
        if isinstance(instance, FieldFilterBackend):
            return _field_filter_parameters(instance, consumer)
        if isinstance(instance, drf_filters.BaseFilterBackend):
            try:
                described = instance.get_schema_operation_parameters(consumer)
            except Exception as exc:
                logger.warning("AsyncAPI: %r could not describe its parameters: %s", backend, exc)
                return {}
            return {
                str(p["name"]): {
                    **p.get("schema", {}),
                    "description": str(p.get("description", "")),
                }
                for p in described
                if isinstance(p, Mapping) and "name" in p
            }
        return {}

    def get_pagination_parameters(self, context: StreamContext) -> dict[str, dict[str, Any]]:
        paginator = context.instance().paginator
        limit = getattr(paginator, "limit_query_param", "limit")
        offset = getattr(paginator, "offset_query_param", "offset")
        return {
            limit: {
                "type": ["integer", "string"],
                "minimum": 1,
                "description": "Page size (default: the PAGE_SIZE setting).",
            },
            offset: {
                "type": ["integer", "string"],
                "minimum": 0,
                "default": 0,
                "description": "Index of the first object of the page.",
            },
        }

    def _lookup(self, context: StreamContext, op: Operation) -> None:
        key, schema = self.get_lookup(context)
        op.parameters[key] = schema
        op.required.append(key)


_SCALAR: dict[str, Any] = {"type": ["string", "number", "boolean"]}


def _signature(method: Any, entry: RegisteredAction) -> inspect.Signature:
    """The action's signature with string annotations evaluated, when they can be."""
    func = getattr(method, "__func__", method)
    if func is None:
        return entry.signature
    try:
        return inspect.signature(func, eval_str=True)
    except Exception:  # an annotation naming what only type checkers import
        return entry.signature


def _snapshot_schema(what: str) -> dict[str, Any]:
    return {
        "type": "boolean",
        "default": False,
        "description": f"Reply with {what} as data (the subscription starts first).",
    }


def _resumable(op: Operation) -> None:
    """Subscribes take ``resume`` and answer ``positions``/``resume`` (observers with history)."""
    op.parameters["resume"] = component_ref(RESUME)
    op.reply_extras["positions"] = {"type": "array", "items": component_ref(POSITION)}
    op.reply_extras["resume"] = component_ref(RESUME_RESULT)


def _pk_only(context: StreamContext) -> dict[str, Any]:
    model = _model_of(context.instance())
    pk = model_field_schema(model._meta.pk) if model is not None else {}
    return {"type": "object", "properties": {"pk": pk}, "required": ["pk"]}


def _page_schema(listed: dict[str, Any], streamed: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "count": {"type": "integer", "minimum": 0},
        "results": listed,
        "limit": {"type": ["integer", "null"]},
        "offset": {"type": "integer", "minimum": 0},
    }
    if streamed:
        properties["last"] = {"type": "boolean", "description": "true on the final page only"}
    return {"type": "object", "properties": properties, "required": sorted(properties)}


def _model_of(consumer: Any) -> type[Model] | None:
    """The model of the consumer's ``queryset``, else of ``get_queryset()`` (lazy: no query)."""
    queryset = getattr(consumer, "queryset", None)
    if queryset is None and callable(getattr(consumer, "get_queryset", None)):
        try:
            queryset = consumer.get_queryset()
        except Exception:  # a hook that needs a real user or message
            queryset = None
    model = getattr(queryset, "model", None)
    return model if isinstance(model, type) else None


def _model_field(model: type[Model], path: str) -> Any:
    """The model field at ``path`` (``author__name``), or ``None``."""
    field_: Any = None
    current: Any = model
    for step in path.split("__"):
        if current is None:
            return None
        try:
            field_ = current._meta.pk if step == "pk" else current._meta.get_field(step)
        except Exception:
            return None
        current = getattr(field_, "related_model", None)
    return field_


def _field_filter_parameters(backend: FieldFilterBackend, consumer: Any) -> dict[str, Any]:
    model = _model_of(consumer)
    parameters: dict[str, Any] = {}
    for path, lookups in backend.get_filter_fields(consumer).items():
        model_field = _model_field(model, path) if model is not None else None
        value = model_field_schema(model_field) if model_field is not None else dict(_SCALAR)
        for lookup in lookups:
            key = path if lookup == "exact" else f"{path}__{lookup}"
            if lookup in _LIST_LOOKUPS:
                schema: dict[str, Any] = {"type": "array", "items": value}
                if lookup == "range":
                    schema.update(minItems=2, maxItems=2)
            elif lookup == "isnull":
                schema = {"type": "boolean"}
            elif lookup in (
                "contains",
                "icontains",
                "startswith",
                "istartswith",
                "endswith",
                "iendswith",
                "iexact",
                "regex",
                "iregex",
            ):
                schema = {"type": "string"}
            else:
                schema = dict(value)
            schema["description"] = f"Filter: {path} {lookup}."
            parameters[key] = schema
    return parameters


_ANNOTATIONS: dict[Any, dict[str, Any]] = {
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    bool: {"type": "boolean"},
    dict: {"type": "object"},
    list: {"type": "array"},
    type(None): {"type": "null"},
}


def _annotation_schema(annotation: Any) -> dict[str, Any]:
    """A schema for a parameter annotation; ``{}`` (any JSON) when unknown."""
    if isinstance(annotation, str):
        annotation = {"int": int, "float": float, "str": str, "bool": bool}.get(annotation)
    if annotation in _ANNOTATIONS:
        return dict(_ANNOTATIONS[annotation])
    origin = typing.get_origin(annotation)
    if origin in (dict, list):
        return dict(_ANNOTATIONS[origin])
    if origin in (typing.Union, types.UnionType):
        options = [_annotation_schema(arg) for arg in typing.get_args(annotation)]
        if all(set(option) == {"type"} and isinstance(option["type"], str) for option in options):
            return {"type": [option["type"] for option in options]}
    return {}


def _is_json(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def consumer_schema_for(consumer_class: type | None) -> ConsumerSchema:
    """The class's ``asyncapi_schema``, or the default :class:`ConsumerSchema`."""
    schema = getattr(consumer_class, "asyncapi_schema", None)
    if schema is None:
        return ConsumerSchema()
    if isinstance(schema, type) and issubclass(schema, ConsumerSchema):
        return schema()
    if not isinstance(schema, ConsumerSchema):
        raise TypeError(
            f"{getattr(consumer_class, '__qualname__', consumer_class)}.asyncapi_schema must be "
            f"an apidocs.inspector.ConsumerSchema (instance or subclass), got {schema!r}."
        )
    return schema
