"""``ObjPartial``: DCRF's helper for reaching an observer's hooks through a consumer.

``consumer.observer_name`` is an observer bound to that consumer; DCRF built it
as a ``functools.partial`` of the observer whose other attributes are the
observer's own methods with the same arguments bound first, so
``consumer.comment_activity.subscribe(...)`` meant
``observer.subscribe(consumer, ...)``. Kept for code that builds its own.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["ObjPartial"]


class ObjPartial(functools.partial[Any]):
    """A partial whose unknown attributes are the wrapped object's methods, bound alike.

    ``ObjPartial(obj, a)(x)`` is ``obj(a, x)``; ``ObjPartial(obj, a).hook(x)`` is
    ``obj.hook(a, x)``.
    """

    def __getattr__(self, name: str) -> Any:
        # Only called for names the partial itself lacks (func, args, ...).
        target = getattr(self.func, name)
        if not callable(target):
            return target
        return functools.partial(target, *self.args, **self.keywords)
