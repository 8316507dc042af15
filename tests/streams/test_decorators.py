"""``@action``: DCRF's signature, declared HTTP methods and per-action throttles."""

from __future__ import annotations

from typing import Any

import pytest

from streams.consumers import AsyncAPIConsumer
from streams.decorators import action, get_action_spec
from streams.scope_utils import method_for_action


def test_dcrf_signature_still_works() -> None:
    @action("renamed", False, None)
    def sync_action(self: Any, **kwargs: Any) -> None: ...

    @action(name="other", atomic=None, detached=True, custom_flag=1)
    async def async_action(self: Any, **kwargs: Any) -> None: ...

    spec = get_action_spec(sync_action)
    assert spec is not None
    assert (spec.name, spec.atomic, spec.detached, spec.method) == ("renamed", False, False, None)
    spec = get_action_spec(async_action)
    assert spec is not None
    assert (spec.name, spec.detached, spec.extra) == ("other", True, {"custom_flag": 1})


@pytest.mark.parametrize("method", ["GET", "get", "Post", "HEAD", "OPTIONS", "PUT", "PATCH"])
def test_method_is_normalised(method: str) -> None:
    @action(method=method)
    def act(self: Any, **kwargs: Any) -> None: ...

    spec = get_action_spec(act)
    assert spec is not None and spec.method == method.upper()


@pytest.mark.parametrize("method", ["FETCH", "", "GET ", 1, ["GET"], "TRACE"])
def test_unknown_method_is_refused_at_decoration(method: Any) -> None:
    with pytest.raises(ValueError, match=r"must be one of .*method=\"GET\""):

        @action(method=method)
        def act(self: Any, **kwargs: Any) -> None: ...


def test_throttle_scope_must_be_a_string() -> None:
    with pytest.raises(ValueError, match="must be a string naming a rate"):

        @action(throttle_scope=5)  # type: ignore[arg-type]
        def act(self: Any, **kwargs: Any) -> None: ...


def test_method_resolution_order() -> None:
    class Consumer(AsyncAPIConsumer):
        @action(method="GET")
        async def peek(self, **kwargs: Any) -> None: ...

        @action()
        async def poke(self, **kwargs: Any) -> None: ...

        @action()
        async def retrieve(self, **kwargs: Any) -> None: ...

        @action(method="POST")
        async def list(self, **kwargs: Any) -> None: ...

    consumer = Consumer()
    assert method_for_action("peek", consumer) == "GET"
    assert method_for_action("poke", consumer) == "POST"
    assert method_for_action("retrieve", consumer) == "GET"  # the standard verb
    assert method_for_action("list", consumer) == "POST"  # a declaration wins over the name
    assert method_for_action("unregistered", consumer) == "POST"
    assert method_for_action("update") == "PUT"  # no consumer: names only
    assert method_for_action(None) == "POST"


def test_builtin_reads_declare_get() -> None:
    from streams import mixins
    from streams.generics import GenericAsyncAPIConsumer
    from streams.observer.generics import ObserverModelInstanceMixin, ObserverModelListMixin

    class Everything(
        ObserverModelInstanceMixin,
        ObserverModelListMixin,
        mixins.StreamedPaginatedListMixin,
        mixins.RetrieveModelMixin,
        mixins.CreateModelMixin,
        mixins.UpdateModelMixin,
        mixins.PatchModelMixin,
        mixins.DeleteModelMixin,
        GenericAsyncAPIConsumer,
    ):
        pass

    methods = {name: method_for_action(name, Everything()) for name in Everything.actions}
    assert methods == {
        "subscribe_instance": "GET",
        "unsubscribe_instance": "GET",
        "subscribe_list": "GET",
        "unsubscribe_list": "GET",
        "list": "GET",
        "list_cancel": "GET",
        "retrieve": "GET",
        "create": "POST",
        "update": "PUT",
        "patch": "PATCH",
        "delete": "DELETE",
    }


# -------------------------------------------- calling actions from Python
class Calls(AsyncAPIConsumer):
    @action()
    def sync_one(self, value: Any = None, **kwargs: Any) -> Any:
        import threading

        return (value, threading.get_ident()), 200

    @action(atomic=True)
    def in_transaction(self, **kwargs: Any) -> Any:
        from django.db import connection

        return connection.in_atomic_block, 200


def test_sync_action_runs_in_place_off_the_event_loop() -> None:
    import threading

    (value, thread), status = Calls().sync_one(value=1)
    assert (value, thread, status) == (1, threading.get_ident(), 200)


async def test_sync_action_is_awaitable_on_the_event_loop_and_leaves_it() -> None:
    import inspect
    import threading

    pending = Calls().sync_one(value=2)
    assert inspect.isawaitable(pending)
    (value, thread), status = await pending
    assert (value, status) == (2, 200)
    assert thread != threading.get_ident()


@pytest.mark.django_db(transaction=True)
async def test_atomic_applies_to_calls_from_python() -> None:
    assert await Calls().in_transaction() == (True, 200)


def test_frame_worker_gets_the_undecorated_function() -> None:
    spec = Calls.actions["sync_one"].spec
    assert spec.func is not None and spec.func is not Calls.sync_one
    assert spec.func.__name__ == "sync_one" and not spec.is_async


async def test_detached_method_awaited_returns_the_running_task() -> None:
    import asyncio

    from streams.decorators import detached

    class Background(AsyncAPIConsumer):
        @detached
        async def work(self, gate: asyncio.Event) -> str:
            await gate.wait()
            return "done"

    consumer = Background()
    gate = asyncio.Event()
    task = await consumer.work(gate)
    assert isinstance(task, asyncio.Task) and not task.done()
    gate.set()
    assert await task == "done"
