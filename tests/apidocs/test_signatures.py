"""apidocs.signatures: custom actions described from their docstring and signature."""

from __future__ import annotations

from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from tests.apidocs.support import operations, showcase


def test_custom_actions_are_described_from_their_signature_and_docstring() -> None:
    op = showcase("books")["count_pages"]
    assert op.summary == "Total pages of the books in a range."
    assert op.description == "Sums ``pages`` of every book with at least ``minimum`` pages."
    assert op.parameters == {
        "minimum": {"type": "integer"},
        "maximum": {"type": ["integer", "null"], "default": None},
    }
    assert op.required == ["minimum"]
    assert op.open_parameters is True  # it takes **kwargs


def test_a_signature_without_kwargs_closes_the_payload() -> None:
    class Strict(AsyncAPIConsumer):
        @action()
        async def add(self, a: int, b: int = 2, action: str = "add") -> tuple[int, int]:
            return a + b, 200

    op = operations({"strict": Strict}, "strict")["add"]
    assert op.open_parameters is False
    assert op.parameters["b"] == {"type": "integer", "default": 2}
