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
from collections.abc import Mapping
from typing import Any

from rest_framework import filters as drf_filters

from apidocs.model_fields import SCALAR, field_at_path, field_filter_parameters, model_of
from apidocs.operations import Operation, Push, StreamContext
from apidocs.schemas import model_field_schema
from apidocs.shapes import page_schema, pk_only, resumable, snapshot_schema
from apidocs.signatures import (
    FRAME_KEYS,
    action_signature,
    annotation_schema,
    docstring_parts,
    is_json,
)
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
            operation.summary, operation.description = docstring_parts(method)
            if not self.describe_known_action(context, name, operation):
                self.describe_from_signature(action_signature(method, entry), operation)
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
                op.reply = page_schema(
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
            op.parameters["snapshot"] = snapshot_schema("the current object")
            resumable(op)
            item = self.serializer_ref(context, "retrieve", "reply")
            op.reply = {"anyOf": [{"type": "null"}, item]}
            op.statuses = (201,)
            op.pushes = [
                Push("update", 200, item, "The object changed (its new state)."),
                Push("delete", 204, pk_only(context), "The object was deleted."),
            ]
            return True
        if name == "unsubscribe_instance" and issubclass(cls, ObserverModelInstanceMixin):
            self._lookup(context, op)
            op.reply = {"type": "null"}
            op.statuses = (204,)
            return True
        if name == "subscribe_list" and issubclass(cls, ObserverModelListMixin):
            op.parameters.update(self.get_filter_parameters(context))
            op.parameters["snapshot"] = snapshot_schema("the current list")
            resumable(op)
            item = self.serializer_ref(context, "list", "reply")
            op.reply = {"anyOf": [{"type": "null"}, {"type": "array", "items": item}]}
            op.statuses = (201,)
            op.pushes = [
                Push("create", 201, item, "An object entered the filtered set."),
                Push("update", 200, item, "An object of the set changed."),
                Push("delete", 204, pk_only(context), "An object left the set or was deleted."),
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
                    "additionalProperties": {"anyOf": [SCALAR, {"type": "array", "items": SCALAR}]},
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
            schema = annotation_schema(parameter.annotation)
            if parameter.default is inspect.Parameter.empty:
                op.required.append(parameter.name)
            elif is_json(parameter.default):
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
        model = model_of(consumer)
        schema: dict[str, Any] = {"type": ["integer", "string"]}
        if model is not None:
            lookup_field = getattr(consumer, "lookup_field", "pk")
            model_field = field_at_path(model, lookup_field)
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
            return field_filter_parameters(instance, consumer)
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
