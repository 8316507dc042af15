"""The action registry: built once per class, read-only, the only way to reach a method."""

from __future__ import annotations

from typing import Any

import pytest

from streams import mixins
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.generics import GenericAsyncAPIConsumer
from streams.registry import APIConsumerMetaclass, build_action_registry
from tests.conftest import request
from tests.streams.support import EchoConsumer, reply


class Base(AsyncAPIConsumer):
    @action()
    async def ping(self, **kwargs: Any) -> Any:
        return "pong", 200

    @action(name="renamed")
    def original(self, **kwargs: Any) -> Any:
        return None, 200

    def helper(self) -> None: ...


class Child(Base):
    async def ping(self, **kwargs: Any) -> Any:  # overridden without @action
        return "child", 200


def test_registry_and_available_actions_name_the_methods():
    assert dict(Base.available_actions) == {"ping": "ping", "renamed": "original"}
    assert set(Base.actions) == {"ping", "renamed"}
    assert "helper" not in Base.actions


def test_override_without_action_is_no_longer_callable():
    assert dict(Child.available_actions) == {"renamed": "original"}


def test_registries_are_read_only_and_per_class():
    with pytest.raises(TypeError):
        Base.actions["x"] = Base.actions["ping"]  # type: ignore[index]
    with pytest.raises(TypeError):
        Base.available_actions["x"] = "helper"  # type: ignore[index]
    assert AsyncAPIConsumer.available_actions == {}


def test_two_methods_under_one_name_name_the_fix():
    with pytest.raises(TypeError, match=r"registers the action 'same' twice.*@action\(name="):

        class Twice(AsyncAPIConsumer):
            @action(name="same")
            async def one(self, **kwargs: Any) -> None: ...

            @action(name="same")
            async def two(self, **kwargs: Any) -> None: ...


def test_build_action_registry_on_a_plain_class_is_empty():
    assert dict(build_action_registry(object)) == {}


def test_the_dcrf_metaclass_name_combines_with_the_mixins():
    class Combined(mixins.ListModelMixin, GenericAsyncAPIConsumer, metaclass=APIConsumerMetaclass):
        pass

    assert type(Combined) is APIConsumerMetaclass
    assert "list" in Combined.available_actions


# ------------------------------------------------- over a socket
async def test_named_action(communicator):
    comm = await communicator(EchoConsumer.as_asgi())
    assert (await request(comm, {"action": "renamed"}))["data"] == "renamed"
    got = await request(comm, {"action": "some_method"})
    assert got["response_status"] == 405


@pytest.mark.parametrize(
    "name",
    ["not_an_action", "_private", "__init__", "dispatch", "reply", "handle_action", "x" * 300],
)
async def test_only_registered_actions_are_callable(communicator, name):
    comm = await communicator(EchoConsumer.as_asgi())
    got = await request(comm, {"action": name, "request_id": 1})
    assert got == reply(None, name, 405, 1, [f'Method "{name}" not allowed.'])
