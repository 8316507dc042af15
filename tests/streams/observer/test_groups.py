"""Group names: valid for every channel layer, hashed, distinct per suffix."""

from __future__ import annotations

from channels.layers import BaseChannelLayer

from streams.observer.groups import canonical, group_name, request_id_key

LAYER = BaseChannelLayer()


def test_any_suffix_gives_a_valid_short_name():
    for suffix in ["", "x" * 10_000, "../../é\x00 ;DROP", {"a": [1, 2]}, 12, None]:
        name = group_name("obs", suffix)
        assert len(name) < 100
        assert LAYER.require_valid_group_name(name)


def test_different_suffixes_and_observers_never_share():
    names = {
        group_name("obs", {"color": "red"}),
        group_name("obs", {"color": "blue"}),
        group_name("obs", {"color": "red", "name": "x"}),
        group_name("other", {"color": "red"}),
        group_name("obs", "1"),
        group_name("obs", 1.5),
    }
    assert len(names) == 6
    assert group_name("obs", {"b": 1, "a": 2}) == group_name("obs", {"a": 2, "b": 1})


def test_request_id_keys_are_hashable_and_distinct():
    keys = {request_id_key(v) for v in [1, "1", 1.0, True, None, {"a": 1}, [1]]}
    assert len(keys) == 7
    assert canonical("x") == "x"
