"""The permission protocol and its algebra: ``BasePermission``, ``&``, ``|``, ``~``.

A permission answers three hooks, each sync or async (see
:mod:`streams.permissions.decisions`). Composition works as in DRF, at any
depth and on classes or instances; a composed expression is an ordinary operand
again (DCRF crashed on ``(A & B) | A``). Operators short-circuit as in DRF and
stay synchronous as long as the operands they evaluate are.

Everything here refers to everything else (a permission's ``&`` builds an
``AND``, which is a permission; resolving an entry may wrap a DRF permission),
so it is one module; what a DRF permission is asked lives in
:mod:`streams.permissions.drf`.

Three deliberate choices, documented because they differ from the obvious:

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

from collections.abc import Iterable
from typing import Any

from rest_framework import permissions as drf_permissions

from streams.permissions.decisions import Decision, as_bool, negate, not_refused, then
from streams.permissions.drf import ask_drf

HOOKS = ("has_permission", "can_connect", "has_object_permission")


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
        return as_bool(self.can_connect(scope, consumer, message))

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


class _Composition(BasePermission):
    """What ``&``, ``|`` and ``~`` build: they connect unless their verdict refuses.

    Their ``connect_verdict`` combines the operands' in three-valued logic;
    "no opinion" from every operand connects, like a permission without
    ``can_connect`` of its own.
    """

    def can_connect(self, scope: dict[str, Any], consumer: Any, message: Any = None) -> Decision:
        return then(self.connect_verdict(scope, consumer, message), not_refused)


class _Binary(_Composition):
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
        return then(
            self.op1.has_permission(scope, consumer, action, **kwargs),
            lambda ok: (
                as_bool(self.op2.has_permission(scope, consumer, action, **kwargs)) if ok else False
            ),
        )

    def connect_verdict(
        self, scope: dict[str, Any], consumer: Any, message: Any = None
    ) -> Decision:
        def with_second(first: bool | None) -> Decision:
            if first is False:
                return False
            return then(
                self.op2.connect_verdict(scope, consumer, message),
                lambda second: False if second is False else (True if first and second else None),
            )

        return then(self.op1.connect_verdict(scope, consumer, message), with_second)

    def has_object_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, obj: Any, **kwargs: Any
    ) -> Decision:
        return then(
            self.op1.has_object_permission(scope, consumer, action, obj, **kwargs),
            lambda ok: (
                as_bool(self.op2.has_object_permission(scope, consumer, action, obj, **kwargs))
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
        return then(
            self.op1.has_permission(scope, consumer, action, **kwargs),
            lambda ok: (
                True if ok else as_bool(self.op2.has_permission(scope, consumer, action, **kwargs))
            ),
        )

    def connect_verdict(
        self, scope: dict[str, Any], consumer: Any, message: Any = None
    ) -> Decision:
        def with_second(first: bool | None) -> Decision:
            if first is True:
                return True
            return then(
                self.op2.connect_verdict(scope, consumer, message),
                lambda second: (
                    True
                    if second is True
                    else (False if first is False and second is False else None)
                ),
            )

        return then(self.op1.connect_verdict(scope, consumer, message), with_second)

    def has_object_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, obj: Any, **kwargs: Any
    ) -> Decision:
        def operand_allows(op: BasePermission) -> Decision:
            return then(
                op.has_permission(scope, consumer, action, **kwargs),
                lambda ok: (
                    as_bool(op.has_object_permission(scope, consumer, action, obj, **kwargs))
                    if ok
                    else False
                ),
            )

        return then(
            operand_allows(self.op1),
            lambda ok: True if ok else operand_allows(self.op2),
        )


class NOT(_Composition):
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
        return then(self.op1.has_permission(scope, consumer, action, **kwargs), negate)

    def connect_verdict(
        self, scope: dict[str, Any], consumer: Any, message: Any = None
    ) -> Decision:
        return then(
            self.op1.connect_verdict(scope, consumer, message),
            lambda verdict: None if verdict is None else not verdict,
        )

    def has_object_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, obj: Any, **kwargs: Any
    ) -> Decision:
        if not self.op1.defines("has_object_permission"):
            return True
        return then(self.op1.has_object_permission(scope, consumer, action, obj, **kwargs), negate)

    def __repr__(self) -> str:
        return f"NOT({self.op1!r})"


# ------------------------------------------------------------ DRF permissions
class WrappedDRFPermission(BasePermission):
    """Runs a DRF permission against a request built from the scope.

    How DRF is asked (the request's method and headers, which thread) is
    :func:`streams.permissions.drf.ask_drf`.
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
        return ask_drf(self.permission, scope, consumer, "connect")

    def has_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, **kwargs: Any
    ) -> Decision:
        return ask_drf(self.permission, scope, consumer, action)

    def has_object_permission(
        self, scope: dict[str, Any], consumer: Any, action: str, obj: Any, **kwargs: Any
    ) -> Decision:
        return ask_drf(self.permission, scope, consumer, action, obj)

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
