"""hypermedia.links: link shape and kwarg_mappings paths."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hypermedia.links import make_link, read_path, split_path


def test_make_link_puts_the_action_first() -> None:
    assert make_link("books", "list", {"author": 3}) == {
        "stream": "books",
        "payload": {"action": "list", "author": 3},
    }


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("pk", (False, ["pk"])),
        ("team.pk", (False, ["team", "pk"])),
        ("self.pk", (True, ["pk"])),
        ("self.author.name", (True, ["author", "name"])),
        ("author__slug", (False, ["author", "slug"])),
        ("self", (True, [])),
    ],
)
def test_split_path(path: str, expected: tuple[bool, list[str]]) -> None:
    assert split_path(path) == expected


@pytest.mark.parametrize("bad", ["", None, 3])
def test_split_path_refuses_non_paths(bad: object) -> None:
    with pytest.raises(TypeError, match="kwarg_mappings"):
        split_path(bad)  # type: ignore[arg-type]


def test_read_path_follows_attributes_and_keys() -> None:
    obj = SimpleNamespace(team=SimpleNamespace(pk=7), extra={"slug": "x"})
    assert read_path(obj, ["team", "pk"]) == 7
    assert read_path(obj, ["extra", "slug"]) == "x"
    assert read_path(obj, []) is obj


def test_read_path_through_none_is_none() -> None:
    assert read_path(SimpleNamespace(team=None), ["team", "pk"]) is None
