"""The outbox: a connection's outgoing frames, sent in order by one writer task.

Streams never call the server's ``send`` themselves: they queue text here and
return, and one writer task per connection hands the frames to the server in
order. A stream therefore never waits for a slow client, and the bytes waiting
for one are counted in one place (``size``), which is what lets the gateway
notice a client that stops reading (``docs/PROTOCOL.md``, close 1013).

Idle connections are the common case, so the queue and its writer exist only
while there is something to send.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from gateway.asgi import Message, Send

__all__ = ["FRAME_OVERHEAD", "Outbox"]

logger = logging.getLogger("gateway.gateway")

#: Bytes charged per queued outgoing frame on top of its text, so that many
#: tiny frames count for the memory they really hold.
FRAME_OVERHEAD = 64


class Outbox:
    """Frames for one connection's client, in order, and the task that sends them.

    ``label`` names the connection in log lines; ``on_failure`` is called when
    the server refuses a frame (the client is gone).
    """

    __slots__ = (
        "_close_timer",
        "_items",
        "_on_failure",
        "_send",
        "_writer",
        "close_done",
        "label",
        "ready",
        "size",
    )

    def __init__(self, send: Send, label: str, on_failure: Callable[[], None]) -> None:
        self._send = send
        self.label = label
        self._on_failure = on_failure
        self._items: deque[str | Message] | None = None
        self._writer: asyncio.Task[None] | None = None
        #: Bytes queued (text length plus ``FRAME_OVERHEAD`` per frame).
        self.size = 0
        #: Frames go out only once the socket is accepted.
        self.ready = False
        #: The server took the close message (its ``send`` returned), or it
        #: refused a send because the client is gone: nothing more will go out.
        self.close_done = False
        # Runs _close_overdue if the close message is still waiting then.
        self._close_timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._items) if self._items else 0

    def cost(self, text: str) -> int:
        """What queueing ``text`` adds to ``size``."""
        return len(text) + FRAME_OVERHEAD

    def push(self, text: str) -> None:
        """Queue a text frame and make sure the writer runs."""
        if self._items is None:
            self._items = deque()
        self.size += len(text) + FRAME_OVERHEAD
        self._items.append(text)
        self.wake()

    def push_close(self, code: int, within: float, overdue: Callable[[], None]) -> None:
        """Queue the close message after the frames already queued.

        If the server has not taken it ``within`` seconds (its ``send`` is
        blocked on a client that reads nothing), the writer is cancelled and
        ``overdue`` is called: the connection must end without it.
        """
        if self._items is None:
            self._items = deque()
        self._items.append({"type": "websocket.close", "code": code})
        self.wake()
        loop = asyncio.get_running_loop()
        self._close_timer = loop.call_later(within, self._close_overdue, overdue)

    def _close_overdue(self, overdue: Callable[[], None]) -> None:
        self._close_timer = None
        if self.close_done:
            return
        self.cancel()
        overdue()

    def clear(self) -> None:
        """Forget every queued frame (the close message too)."""
        if self._items is not None:
            self._items.clear()
        self.size = 0

    def start(self) -> None:
        """The socket is accepted: send what was queued before."""
        self.ready = True
        self.wake()

    def wake(self) -> None:
        if self.ready and self._writer is None and self._items:
            self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    def cancel(self) -> None:
        """Stop the writer, if it runs, and the close deadline (the connection is over).

        Safe while the writer waits in the server's ``send``: the servers that
        block there (uvicorn waits for its transport to be writable, asyncio
        streams for ``drain()``) wait before or after writing a whole frame,
        never in the middle of one.
        """
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()

    async def _write_loop(self) -> None:
        """Send the queue in order; ends (and is restarted) when it runs dry."""
        items, send = self._items, self._send
        assert items is not None
        try:
            while items:
                item = items.popleft()
                if isinstance(item, str):
                    self.size -= len(item) + FRAME_OVERHEAD
                    message: Message = {"type": "websocket.send", "text": item}
                else:
                    message = item
                try:
                    await send(message)
                except Exception as exc:
                    # The server could not deliver: the client is gone, and the
                    # server will tell us with websocket.disconnect.
                    logger.info("gateway %s: sending to the client failed: %r", self.label, exc)
                    self.clear()
                    self.close_done = True
                    self._on_failure()
                    return
                if message["type"] == "websocket.close":
                    self.clear()
                    self.close_done = True
                    return
        finally:
            # No await between the emptiness check and here: a frame pushed
            # after it finds no writer and starts a new one.
            self._writer = None
            if self._items is items and not items:
                self._items = None  # back to an idle connection's footprint
