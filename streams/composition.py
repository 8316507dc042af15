"""Clear errors for consumer classes whose mixins cannot be combined as listed.

Python refuses some base lists with "Cannot create a consistent method
resolution order (MRO)" and no hint. The usual cause in DRF-style code is a
mixin listed before another mixin that already includes it, e.g.
``class BookConsumer(RetrieveModelMixin, ObserverModelInstanceMixin, ...)``:
``ObserverModelInstanceMixin`` provides ``retrieve`` itself. The mixins of
``streams`` share the metaclass below, which turns that error into one that
names the classes and the fix.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MixinBase", "MixinOrderMeta", "explain_bases"]


def explain_bases(name: str, bases: tuple[type, ...]) -> str:
    """Why ``class name(*bases)`` has no MRO, and how to list the bases instead."""
    for index, earlier in enumerate(bases):
        for later in bases[index + 1 :]:
            if later is not earlier and issubclass(later, earlier):
                return (
                    f"{name} lists {earlier.__name__} before {later.__name__}, which already "
                    f"includes it, so Python cannot order the bases (MRO). Drop "
                    f"{earlier.__name__} from {name}'s bases ({later.__name__} provides its "
                    f"actions), or list it after {later.__name__}."
                )
    listed = ", ".join(base.__name__ for base in bases)
    return (
        f"{name}'s bases ({listed}) cannot be ordered by Python (MRO). List the mixins "
        "first, each before the mixins it builds on, and the consumer class "
        "(GenericAsyncAPIConsumer) last, as in DRF."
    )


class MixinOrderMeta(type):
    """``type``, with an explanation when the bases cannot be ordered."""

    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> MixinOrderMeta:
        try:
            return super().__new__(mcs, name, bases, namespace, **kwargs)
        except TypeError as exc:
            if "(MRO)" not in str(exc):
                raise
            raise TypeError(explain_bases(name, bases)) from exc


class MixinBase(metaclass=MixinOrderMeta):
    """The runtime base of the streams mixins (it adds nothing but the metaclass)."""
