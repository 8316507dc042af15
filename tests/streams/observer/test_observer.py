"""``@observer(signal)``: any Django signal pushed to subscribers."""

from __future__ import annotations

from typing import Any

import pytest
from django.dispatch import Signal

from gateway import Gateway
from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.observer import Observer, observer
from tests.streams.observer.support import call, push

something_happened = Signal()


class SignalConsumer(AsyncAPIConsumer):
    @observer(something_happened)
    async def happened(self, message, observer=None, subscribing_request_ids=(), **kwargs):
        for request_id in subscribing_request_ids:
            await self.reply(action="happened", data=message, request_id=request_id)

    @happened.serializer
    def happened(self, signal, sender=None, value=None, **kwargs):
        if value == "bad":
            raise ValueError("bad value")
        return {"value": value}

    @action()
    async def listen(self, request_id: Any = None, **kwargs: Any) -> Any:
        await self.happened.subscribe(request_id=request_id)
        return None, 201

    @action()
    async def stop(self, request_id: Any = None, **kwargs: Any) -> Any:
        await self.happened.unsubscribe(request_id=request_id)
        return None, 204


APP = Gateway.as_asgi(streams={"signals": SignalConsumer})


async def test_signal_reaches_subscribers_and_stops_after_unsubscribe(clients):
    client = await clients(APP)
    await call(client, "signals", {"action": "listen", "request_id": "s"})
    something_happened.send(sender=None, value=3)  # sent from the loop: scheduled as a task
    assert await client.receive_from("signals", request_id="s") == push(
        "happened", {"value": 3}, 200, "s"
    )
    await call(client, "signals", {"action": "stop", "request_id": "s"})
    something_happened.send(sender=None, value=4)
    await client.assert_no_frames(0.1)


async def test_hook_failure_is_logged(clients, caplog):
    client = await clients(APP)
    await call(client, "signals", {"action": "listen", "request_id": "s"})
    something_happened.send(sender=None, value="bad")
    await client.assert_no_frames(0.1)
    assert "signal event dropped" in caplog.text


def test_observer_needs_a_signal():
    async def handler(self, message, **kwargs):
        pass

    with pytest.raises(TypeError, match=r"needs a django\.dispatch\.Signal"):
        Observer(handler, signal="post_save")
