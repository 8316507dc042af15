"""streams.observer.utils.ObjPartial: DCRF's partial whose attributes are bound alike."""

from __future__ import annotations

from typing import Any

from streams.observer.utils import ObjPartial


class Target:
    label = "target"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return ("call", args, kwargs)

    def hook(self, *args: Any, **kwargs: Any) -> Any:
        return ("hook", args, kwargs)


def test_calls_and_attributes_get_the_same_bound_arguments():
    bound = ObjPartial(Target(), "consumer", flag=True)
    assert bound(1) == ("call", ("consumer", 1), {"flag": True})
    assert bound.hook(2, x=3) == ("hook", ("consumer", 2), {"flag": True, "x": 3})


def test_plain_attributes_are_returned_as_they_are():
    assert ObjPartial(Target(), "consumer").label == "target"
