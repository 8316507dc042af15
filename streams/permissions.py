"""Permissions: who may connect, run an action, or see an object.

Signatures follow DCRF: ``has_permission(scope, consumer, action, **kwargs)``,
``can_connect(scope, consumer, message)`` and, new here,
``has_object_permission(scope, consumer, action, obj, **kwargs)``. Each may be
sync or async (return a bool or an awaitable of one).

Composition works as in DRF, at any depth and on classes or instances::

    permission_classes = [(IsAuthenticated & IsOwner) | ~IsReadOnly]

DCRF crashed on nested expressions such as ``(A & B) | A``; here a composed
expression is an ordinary operand again. Operators short-circuit as in DRF and
stay synchronous as long as the operands they evaluate are, so a composition of
sync permissions costs no event-loop hop when object permissions are checked in
the database thread.

DRF permission classes (``rest_framework.permissions.BasePermission``
subclasses, their instances, and DRF's own ``&``/``|``/``~`` compositions) may
be listed directly: :func:`get_permission_instances` wraps each in
:class:`WrappedDRFPermission`, which hands DRF a request built from the scope
(see :mod:`streams.scope_utils`) and the consumer as the view.

Two deliberate choices, documented because they differ from the obvious:

* ``~X`` leaves alone a hook that ``X`` does not define. ``BasePermission``'s
  hooks allow by default, meaning "no opinion"; negating that would turn
  ``~IsAuthenticated`` into "refuse every connection" (its ``can_connect`` is
  the inherited default). Wrapped DRF permissions keep DRF's exact semantics for
  ``has_permission``/``has_object_permission``.
* Wrapped DRF permissions judge the connection as in DCRF: ``has_permission``
  with a ``HEAD`` request, the action being ``"connect"``. Under a gateway a
  refusal closes that stream only (its frames get 403), so a socket's public
  streams stay usable.
* A composition refuses a connection only when it is sure to refuse: an
  operand without a ``can_connect`` of its own is "unknown" at connect, not
  "allowed", so ``~(IsOwner | drf.IsAdminUser)`` does not refuse every socket
  because ``IsOwner`` has no connect opinion. The actions decide later.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from channels.db import database_sync_to_async
from rest_framework import permissions as drf_permissions

from streams.scope_utils import drf_request_from_scope

#: What a permission hook returns: a bool, or an awaitable of one.
Decision = Any

__all__ = [
    "AND",
    "NOT",
    "OR",
    "AllowAny",
    "BasePermission",
    "BasePermissionMetaclass",
    "IsAuthenticated",
    "OperandHolder",
    "OperationHolderMixin",
    "SingleOperandHolder",
    "WrappedDRFPermission",
    "ensure_permission",
    "get_permission_instances",
]

HOOKS = ("has_permission", "can_connect", "has_object_permission")


# --------------------------------------------------------------- sync/async glue
def _then(result: Decision, step: Callable[[Any], Decision]) -> Decision:
    """Apply ``step`` to ``result``, awaiting first only if ``result`` is awaitable.

    This keeps compositions of sync operands fully synchronous.
    """
    if inspect.isawaitable(result):
        return _then_async(result, step)
    return step(result)


async def _then_async(result: Awaitable[Any], step: Callable[[Any], Decision]) -> Any:
    value = step(await result)
    if inspect.isawaitable(value):
        value = await value
    return value


def _as_bool(result: Decision) -> Decision:
    return _then(result, bool)


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# ------------------------------------------------------------- class operators
class OperationHolderMixin:
    """``&``, ``|`` and ``~`` on permission classes and on composed expressions."""

    def __and__(self, other: Any) -> OperandHolder:
        return OperandHolder(AND, self, other)

    def __or__(self, other: Any) -> OperandHolder:
        return OperandHolder(OR, self, other)

    def __rand__(self, other: Any) -> OperandHolder:
        return OperandHolder(AND, other, self)

    def __ror__(self, other: Any) -> OperandHolder:
        return OperandHolder(OR, other, self)

    def __invert__(self) -> SingleOperandHolder:
        return SingleOperandHolder(NOT, self)


class OperandHolder(OperationHolderMixin):
    """A composed class expression such as ``A & B``; calling it builds the permission."""

    def __init__(self, operator_class: type[AND | OR], op1_class: Any, op2_class: Any) -> None:
        self.operator_class = operator_class
        self.op1_class = op1_class
        self.op2_class = op2_class

    def __call__(self) -> BasePermission:
        return self.operator_class(
            ensure_permission(self.op1_class), ensure_permission(self.op2_class)
        )

    def __repr__(self) -> str:
        symbol = "&" if self.operator_class is AND else "|"
        return f"({_name(self.op1_class)} {symbol} {_name(self.op2_class)})"


class SingleOperandHolder(OperationHolderMixin):
    """A negated class expression, ``~A``; calling it builds the permission."""

    def __init__(self, operator_class: type[NOT], op1_class: Any) -> None:
        self.operator_class = operator_class
        self.op1_class = op1_class

    def __call__(self) -> BasePermission:
        return self.operator_class(ensure_permission(self.op1_class))

    def __repr__(self) -> str:
        return f"~{_name(self.op1_class)}"


def _name(operand: Any) -> str:
    return operand.__qualname__ if isinstance(operand, type) else repr(operand)


class BasePermissionMetaclass(OperationHolderMixin, type):  # type: ignore[misc]
    """Gives permission *classes* the ``&``, ``|`` and ``~`` operators."""


# ------------------------------------------------------------------ permissions
class BasePermission(metaclass=BasePermissionMetaclass):
    """Allows everything; subclass and override what you restrict.

    ``message`` becomes the 403 reply's error when this permission refuses.
    """

    message: Any = None

    def has_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, **kwargs: Any
    ) -> Decision:
        return True

    def can_connect(self, scope: dict[str, Any], consumer: Any, message: Any = None) -> Decision:
        return True

    def has_object_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, obj: Any, **kwargs: Any
    ) -> Decision:
        return True

    def defines(self, hook: str) -> bool:
        """Does this permission decide ``hook`` itself (rather than inherit allow-all)?

        ``NOT`` only negates hooks its operand defines.
        """
        return getattr(type(self), hook) is not getattr(BasePermission, hook)

    def connect_verdict(
        self, scope: dict[str, Any], consumer: Any, message: Any = None
    ) -> Decision:
        """``True``/``False`` from a ``can_connect`` of its own, else ``None`` (no opinion).

        Compositions combine these in three-valued logic (see the module doc).
        """
        if not self.defines("can_connect"):
            return None
        return _as_bool(self.can_connect(scope, consumer, message))

    # Instance operators: ``IsAuthenticated() & IsOwner()``.
    def __and__(self, other: Any) -> AND:
        return AND(self, ensure_permission(other))

    def __rand__(self, other: Any) -> AND:
        return AND(ensure_permission(other), self)

    def __or__(self, other: Any) -> OR:
        return OR(self, ensure_permission(other))

    def __ror__(self, other: Any) -> OR:
        return OR(ensure_permission(other), self)

    def __invert__(self) -> NOT:
        return NOT(self)


class AllowAny(BasePermission):
    """Allows every action (and so ``~AllowAny`` refuses every action)."""

    def has_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, **kwargs: Any
    ) -> Decision:
        return True


class IsAuthenticated(BasePermission):
    """Allows actions only to an authenticated ``scope["user"]``.

    Connections are still accepted, so anonymous clients get a 403 per action
    and the socket's public streams keep working.
    """

    def has_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, **kwargs: Any
    ) -> Decision:
        user = scope.get("user")
        return bool(user is not None and user.is_authenticated)


class _Binary(BasePermission):
    def __init__(self, op1: BasePermission, op2: BasePermission) -> None:
        self.op1 = op1
        self.op2 = op2

    def defines(self, hook: str) -> bool:
        return self.op1.defines(hook) or self.op2.defines(hook)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.op1!r}, {self.op2!r})"


class AND(_Binary):
    """Both operands must allow; the second is not asked when the first refuses."""

    def has_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, **kwargs: Any
    ) -> Decision:
        return _then(
            self.op1.has_permission(scope, consumer, action, **kwargs),
            lambda ok: (
                _as_bool(self.op2.has_permission(scope, consumer, action, **kwargs))
                if ok
                else False
            ),
        )

    def can_connect(self, scope: dict[str, Any], consumer: Any, message: Any = None) -> Decision:
        return _then(self.connect_verdict(scope, consumer, message), _not_refused)

    def connect_verdict(
        self, scope: dict[str, Any], consumer: Any, message: Any = None
    ) -> Decision:
        def with_second(first: bool | None) -> Decision:
            if first is False:
                return False
            return _then(
                self.op2.connect_verdict(scope, consumer, message),
                lambda second: False if second is False else (True if first and second else None),
            )

        return _then(self.op1.connect_verdict(scope, consumer, message), with_second)

    def has_object_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, obj: Any, **kwargs: Any
    ) -> Decision:
        return _then(
            self.op1.has_object_permission(scope, consumer, action, obj, **kwargs),
            lambda ok: (
                _as_bool(self.op2.has_object_permission(scope, consumer, action, obj, **kwargs))
                if ok
                else False
            ),
        )


class OR(_Binary):
    """Either operand may allow; the second is not asked when the first allows.

    For objects, as in DRF 3.14+, an operand only counts if it allows both the
    action and the object: otherwise ``IsOwner | IsStaff`` would let anyone
    see any object through ``IsStaff``'s allow-all object check.
    """

    def has_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, **kwargs: Any
    ) -> Decision:
        return _then(
            self.op1.has_permission(scope, consumer, action, **kwargs),
            lambda ok: (
                True if ok else _as_bool(self.op2.has_permission(scope, consumer, action, **kwargs))
            ),
        )

    def can_connect(self, scope: dict[str, Any], consumer: Any, message: Any = None) -> Decision:
        return _then(self.connect_verdict(scope, consumer, message), _not_refused)

    def connect_verdict(
        self, scope: dict[str, Any], consumer: Any, message: Any = None
    ) -> Decision:
        def with_second(first: bool | None) -> Decision:
            if first is True:
                return True
            return _then(
                self.op2.connect_verdict(scope, consumer, message),
                lambda second: (
                    True
                    if second is True
                    else (False if first is False and second is False else None)
                ),
            )

        return _then(self.op1.connect_verdict(scope, consumer, message), with_second)

    def has_object_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, obj: Any, **kwargs: Any
    ) -> Decision:
        def operand_allows(op: BasePermission) -> Decision:
            return _then(
                op.has_permission(scope, consumer, action, **kwargs),
                lambda ok: (
                    _as_bool(op.has_object_permission(scope, consumer, action, obj, **kwargs))
                    if ok
                    else False
                ),
            )

        return _then(
            operand_allows(self.op1),
            lambda ok: True if ok else operand_allows(self.op2),
        )


class NOT(BasePermission):
    """Negates its operand, for the hooks the operand defines (see the module doc)."""

    def __init__(self, op1: BasePermission) -> None:
        self.op1 = op1

    def defines(self, hook: str) -> bool:
        return self.op1.defines(hook)

    def has_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, **kwargs: Any
    ) -> Decision:
        if not self.op1.defines("has_permission"):
            return True
        return _then(self.op1.has_permission(scope, consumer, action, **kwargs), _negate)

    def can_connect(self, scope: dict[str, Any], consumer: Any, message: Any = None) -> Decision:
        return _then(self.connect_verdict(scope, consumer, message), _not_refused)

    def connect_verdict(
        self, scope: dict[str, Any], consumer: Any, message: Any = None
    ) -> Decision:
        return _then(
            self.op1.connect_verdict(scope, consumer, message),
            lambda verdict: None if verdict is None else not verdict,
        )

    def has_object_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, obj: Any, **kwargs: Any
    ) -> Decision:
        if not self.op1.defines("has_object_permission"):
            return True
        return _then(
            self.op1.has_object_permission(scope, consumer, action, obj, **kwargs), _negate
        )

    def __repr__(self) -> str:
        return f"NOT({self.op1!r})"


def _negate(value: Any) -> bool:
    return not value


def _not_refused(verdict: bool | None) -> bool:
    """A connection goes ahead unless the verdict is a certain refusal."""
    return verdict is not False


# ------------------------------------------------------------ DRF permissions
class WrappedDRFPermission(BasePermission):
    """Runs a DRF permission against a request built from the scope.

    The request's method follows the action: the method it declares
    (``@action(method="GET")``), else the standard verb of its name (list and
    retrieve GET, create POST, update PUT, patch PATCH, delete DELETE), else
    ``POST``, so an undeclared custom action is judged as a write. ``META`` holds the
    handshake headers as ``HTTP_*``, where DRF authentication and permissions
    look. The consumer is the view, so ``DjangoModelPermissions`` finds
    ``get_queryset()``/``queryset`` on it.

    DRF permissions are sync and may query the database (``user.has_perm``):
    called on the event loop they run in the database thread; called from the
    database thread (object checks inside sync actions) they run in place.
    """

    def __init__(self, permission: drf_permissions.BasePermission) -> None:
        self.permission = permission

    @property
    def message(self) -> Any:
        # Read live: DRF permissions often set ``self.message`` while refusing.
        return getattr(self.permission, "message", None)

    @message.setter
    def message(self, value: Any) -> None:
        self.permission.message = value  # type: ignore[attr-defined]

    def defines(self, hook: str) -> bool:
        # DRF composes its request hooks even when inherited; the connect check
        # is its has_permission too.
        return True

    def can_connect(self, scope: dict[str, Any], consumer: Any, message: Any = None) -> Decision:
        """DRF's ``has_permission`` for a ``HEAD`` request (DCRF's connect check)."""
        return self._call(
            self._has_permission, self.permission.has_permission, scope, consumer, "connect"
        )

    def has_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, **kwargs: Any
    ) -> Decision:
        return self._call(
            self._has_permission, self.permission.has_permission, scope, consumer, action
        )

    def has_object_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, obj: Any, **kwargs: Any
    ) -> Decision:
        return self._call(
            self._has_object_permission,
            self.permission.has_object_permission,
            scope,
            consumer,
            action,
            obj,
        )

    def _has_permission(self, scope: dict[str, Any], consumer: Any, action: str) -> Any:
        request = drf_request_from_scope(scope, action, consumer)
        return self.permission.has_permission(request, consumer)

    def _has_object_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, obj: Any
    ) -> Any:
        request = drf_request_from_scope(scope, action, consumer)
        return self.permission.has_object_permission(request, consumer, obj)

    @staticmethod
    def _call(runner: Callable[..., Any], hook: Callable[..., Any], *args: Any) -> Decision:
        if inspect.iscoroutinefunction(hook):
            # An async DRF-style hook needs no thread.
            return _as_bool(runner(*args))
        if _on_event_loop():
            return _as_bool(database_sync_to_async(runner)(*args))
        return _as_bool(runner(*args))

    def __repr__(self) -> str:
        return f"WrappedDRFPermission({type(self.permission).__qualname__})"


# ----------------------------------------------------------------- resolution
def ensure_permission(operand: Any) -> BasePermission:
    """Turn one entry of ``permission_classes`` (or an operand) into a permission instance."""
    if isinstance(operand, BasePermission):
        return operand
    if isinstance(operand, type) and issubclass(operand, BasePermission):
        return operand()
    if isinstance(operand, OperandHolder | SingleOperandHolder):
        return operand()
    if isinstance(operand, type) and issubclass(operand, drf_permissions.BasePermission):
        return WrappedDRFPermission(operand())
    if isinstance(operand, drf_permissions.BasePermission):
        return WrappedDRFPermission(operand)
    if isinstance(operand, drf_permissions.OperandHolder | drf_permissions.SingleOperandHolder):
        return ensure_permission(operand())
    # DRF's composed instances: rebuild them from our operators, so that any of
    # their operands may be ours (or async) and messages/threads work the same.
    composed: Any = operand  # the stubs do not declare op1/op2
    if isinstance(operand, drf_permissions.AND):
        return AND(ensure_permission(composed.op1), ensure_permission(composed.op2))
    if isinstance(operand, drf_permissions.OR):
        return OR(ensure_permission(composed.op1), ensure_permission(composed.op2))
    if isinstance(operand, drf_permissions.NOT):
        return NOT(ensure_permission(composed.op1))
    raise TypeError(
        f"{operand!r} is not a permission. permission_classes (and DEFAULT_PERMISSION_CLASSES) "
        "take subclasses of streams.permissions.BasePermission or "
        "rest_framework.permissions.BasePermission, instances of them, or compositions of "
        "those with &, | and ~."
    )


def get_permission_instances(classes: Iterable[Any]) -> list[BasePermission]:
    """Instances for a consumer's ``permission_classes``, DRF ones wrapped."""
    return [ensure_permission(entry) for entry in classes]
