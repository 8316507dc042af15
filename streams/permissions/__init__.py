"""Permissions: who may connect, run an action, or see an object.

Signatures follow DCRF: ``has_permission(scope, consumer, action, **kwargs)``,
``can_connect(scope, consumer, message)`` and, new here,
``has_object_permission(scope, consumer, action, obj, **kwargs)``. Each may be
sync or async (return a bool or an awaitable of one).

Composition works as in DRF, at any depth and on classes or instances::

    permission_classes = [(IsAuthenticated & IsOwner) | ~IsReadOnly]

DRF permission classes (``rest_framework.permissions.BasePermission``
subclasses, their instances, and DRF's own ``&``/``|``/``~`` compositions) may
be listed directly: :func:`get_permission_instances` wraps each in
:class:`WrappedDRFPermission`, which hands DRF a request built from the scope
and the consumer as the view.

Import everything from here, as from DCRF's ``permissions`` module; the
modules behind it are:

* :mod:`streams.permissions.base`: ``BasePermission``, the operators and
  their three-valued connect logic, ``WrappedDRFPermission``, resolving
  ``permission_classes`` entries;
* :mod:`streams.permissions.builtin`: ``AllowAny``, ``IsAuthenticated``;
* :mod:`streams.permissions.drf`: how a DRF permission is asked over a socket
  (the request's method and headers, the database thread);
* :mod:`streams.permissions.decisions`: the sync/async glue.
"""

from streams.permissions.base import (
    AND,
    HOOKS,
    NOT,
    OR,
    BasePermission,
    BasePermissionMetaclass,
    OperandHolder,
    OperationHolderMixin,
    SingleOperandHolder,
    WrappedDRFPermission,
    ensure_permission,
    get_permission_instances,
)
from streams.permissions.builtin import AllowAny, IsAuthenticated
from streams.permissions.decisions import Decision

__all__ = [
    "AND",
    "HOOKS",
    "NOT",
    "OR",
    "AllowAny",
    "BasePermission",
    "BasePermissionMetaclass",
    "Decision",
    "IsAuthenticated",
    "OperandHolder",
    "OperationHolderMixin",
    "SingleOperandHolder",
    "WrappedDRFPermission",
    "ensure_permission",
    "get_permission_instances",
]
