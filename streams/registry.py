"""The action registry: which names a client may call on a consumer class, and how.

A class's registry is built once, when the class is created, from the methods
``@action`` marked; it is the only way a frame reaches a method, so a client
can never call an attribute by naming it.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from streams.composition import MixinOrderMeta
from streams.decorators import ActionSpec, get_action_spec


class APIConsumerMetaclass(MixinOrderMeta):
    """DCRF's metaclass name, kept so that code naming it keeps working.

    The registry is built by ``AsyncAPIConsumer.__init_subclass__`` instead;
    this metaclass only adds what the mixins' one does (a clear error when the
    bases cannot be ordered), so consumers and mixins combine. Subclass it, or
    pass ``metaclass=`` with it, as before.
    """


# Top-level message keys that would collide with the parameters of actions or
# permission hooks (``has_permission(scope, consumer, action, **kwargs)``).
RESERVED_KWARGS = frozenset({"self", "scope", "consumer"})


@dataclass(frozen=True)
class RegisteredAction:
    """An entry of a consumer class's action registry."""

    name: str
    attribute: str
    spec: ActionSpec
    signature: inspect.Signature


def build_action_registry(cls: type) -> Mapping[str, RegisteredAction]:
    registry: dict[str, RegisteredAction] = {}
    for attribute in dir(cls):
        if attribute.startswith("__"):
            continue
        member = inspect.getattr_static(cls, attribute, None)
        func = getattr(member, "__func__", member)
        spec = get_action_spec(func)
        if spec is None or not callable(func):
            continue
        name = spec.name or attribute
        if name in registry:
            raise TypeError(
                f"{cls.__qualname__} registers the action {name!r} twice (methods "
                f"{registry[name].attribute!r} and {attribute!r}); give one of them another "
                "@action(name=...)."
            )
        registry[name] = RegisteredAction(name, attribute, spec, inspect.signature(func))
    return MappingProxyType(registry)
