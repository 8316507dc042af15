"""``GatewayCommunicator``: drive a gateway application in tests, frame by frame.

It plays the ASGI server and the client at once, like Channels'
``WebsocketCommunicator``, with three differences that matter for multiplexed
sockets:

* a receive that times out raises ``TimeoutError`` and leaves the application
  running (Channels' communicator cancels the application on timeout, which
  makes "wait for the reply on stream A, then on stream B" impossible);
* ``receive_from(stream=..., request_id=...)`` returns the first *matching*
  frame; frames that do not match are kept for later calls, never lost;
* after the application closes the socket it sends ``websocket.disconnect`` to
  it, as real servers do.

``max_unread=N`` simulates a client that stops reading: the application's
``send`` blocks once N messages are waiting to be read.
"""

# ``timeout=`` arguments are the documented API of test communicators (as in
# Channels' ``receive_output(timeout=1)``), not a missing ``asyncio.timeout``.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextvars
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlparse

from gateway.asgi import ASGIApp, Message, Scope

__all__ = ["GatewayClosed", "GatewayCommunicator"]


class GatewayClosed(AssertionError):
    """The socket closed (or the application ended) while a frame was expected."""

    def __init__(self, message: str, code: int | None) -> None:
        super().__init__(message)
        self.code = code


class GatewayCommunicator:
    def __init__(
        self,
        application: ASGIApp,
        path: str = "/",
        headers: Iterable[tuple[bytes, bytes]] | None = None,
        subprotocols: Iterable[str] | None = None,
        scope: Mapping[str, Any] | None = None,
        max_unread: int | None = None,
    ) -> None:
        parsed = urlparse(path)
        self.scope: Scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "path": unquote(parsed.path),
            "raw_path": parsed.path.encode(),
            "query_string": parsed.query.encode(),
            "headers": list(headers or []),
            "subprotocols": list(subprotocols or []),
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            **(scope or {}),
        }
        self.application = application
        self._max_unread = max_unread or 0
        self._input: asyncio.Queue[Message] | None = None
        self._output: asyncio.Queue[Message] | None = None
        self._task: asyncio.Task[Any] | None = None
        self._buffer: list[dict[str, Any]] = []
        self._gone = False
        #: The close code once the application closed the socket, else None.
        self.close_code: int | None = None
        #: The close reason the application gave, if any (e.g. ``"logged_out"``).
        self.close_reason: str | None = None

    # ---------------------------------------------------------------- life
    async def connect(self, timeout: float = 1) -> tuple[bool, Any]:
        """Open the socket: ``(True, subprotocol)`` or ``(False, close code)``."""
        if self._task is not None:
            raise RuntimeError("connect() was already called on this communicator.")
        self._input = asyncio.Queue()
        self._output = asyncio.Queue(maxsize=self._max_unread)
        # A fresh context, as a server would give: nothing leaks in from the test.
        self._task = asyncio.create_task(self._run_application(), context=contextvars.Context())
        await self._input.put({"type": "websocket.connect"})
        message = await self._next_message(timeout)
        if message["type"] == "websocket.accept":
            return True, message.get("subprotocol")
        if message["type"] == "websocket.close":
            self.close_code = message.get("code") or 1000
            self.close_reason = message.get("reason")
            return False, self.close_code
        raise AssertionError(f"Expected websocket.accept or websocket.close, got {message!r}.")

    async def disconnect(self, code: int = 1000, timeout: float = 10) -> None:
        """Leave, and wait until the application has finished (cleanup included)."""
        task = self._require_task()
        if not task.done():
            assert self._input is not None
            await self._input.put({"type": "websocket.disconnect", "code": code})
            # Like a server whose client has left: sends no longer block or arrive.
            self._gone = True
            assert self._output is not None
            while not self._output.empty():
                self._output.get_nowait()
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout)
            except TimeoutError:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                raise TimeoutError(
                    f"The application did not finish within {timeout}s of the disconnect."
                ) from None
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]

    async def __aenter__(self) -> GatewayCommunicator:
        connected, detail = await self.connect()
        if not connected:
            raise GatewayClosed(f"The application refused the connection ({detail}).", detail)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.disconnect()

    # ---------------------------------------------------------------- send
    async def send_to(self, stream: str, payload: Any) -> None:
        """Send ``{"stream": stream, "payload": payload}``."""
        await self.send_raw(json.dumps({"stream": stream, "payload": payload}))

    async def send_raw(self, data: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) frame exactly as given."""
        if self._input is None:
            raise RuntimeError("Call connect() first.")
        if isinstance(data, bytes):
            await self._input.put({"type": "websocket.receive", "bytes": data})
        else:
            await self._input.put({"type": "websocket.receive", "text": data})

    # ------------------------------------------------------------- receive
    async def receive_frame(self, timeout: float = 1) -> dict[str, Any]:
        """The next frame, decoded (buffered frames first)."""
        if self._buffer:
            return self._buffer.pop(0)
        return await self._next_frame(timeout)

    async def receive_from(
        self, stream: str | None = None, request_id: Any = None, timeout: float = 1
    ) -> Any:
        """The payload of the first frame matching ``stream`` and ``request_id``.

        ``None`` matches anything. Frames that do not match stay buffered for
        later calls. Raises ``TimeoutError`` (the application keeps running) or
        :class:`GatewayClosed`.
        """

        def matches(frame: dict[str, Any]) -> bool:
            if stream is not None and frame.get("stream") != stream:
                return False
            if request_id is not None:
                payload = frame.get("payload")
                return isinstance(payload, dict) and payload.get("request_id") == request_id
            return True

        for index, frame in enumerate(self._buffer):
            if matches(frame):
                return self._buffer.pop(index).get("payload")
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                frame = await self._next_frame(max(remaining, 0))
            except TimeoutError:
                raise TimeoutError(
                    f"No frame for stream={stream!r} request_id={request_id!r} within "
                    f"{timeout}s ({len(self._buffer)} other frame(s) buffered)."
                ) from None
            if matches(frame):
                return frame.get("payload")
            self._buffer.append(frame)

    async def receive_close(self, timeout: float = 1) -> int:
        """Wait until the application closes the socket; returns the close code.

        Frames that arrive first are buffered.
        """
        deadline = time.monotonic() + timeout
        while self.close_code is None:
            try:
                self._buffer.append(await self._next_frame(max(deadline - time.monotonic(), 0)))
            except GatewayClosed:
                break
        assert self.close_code is not None
        return self.close_code

    async def assert_no_frames(self, timeout: float = 0.1) -> None:
        """Fail if any frame arrives within ``timeout`` (or is still buffered)."""
        await asyncio.sleep(timeout)
        assert self._output is not None
        while not self._output.empty():
            message = self._output.get_nowait()
            if message["type"] == "websocket.send":
                self._buffer.append(self._decode(message))
        if self._buffer:
            raise AssertionError(f"Expected no frames, got {self._buffer!r}.")

    @property
    def buffered(self) -> list[dict[str, Any]]:
        """Frames received but not yet returned by a receive call."""
        return list(self._buffer)

    # ------------------------------------------------------------ plumbing
    async def _run_application(self) -> None:
        assert self._input is not None
        await self.application(self.scope, self._input.get, self._app_send)

    async def _app_send(self, message: Message) -> None:
        if self._gone:
            return
        assert self._output is not None
        await self._output.put(message)

    def _require_task(self) -> asyncio.Task[Any]:
        if self._task is None:
            raise RuntimeError("Call connect() first.")
        return self._task

    async def _next_frame(self, timeout: float) -> dict[str, Any]:
        while True:
            message = await self._next_message(timeout)
            if message["type"] == "websocket.send":
                return self._decode(message)
            if message["type"] == "websocket.close":
                self.close_code = message.get("code") or 1000
                self.close_reason = message.get("reason")
                assert self._input is not None
                # What a server does once the close handshake is over.
                await self._input.put({"type": "websocket.disconnect", "code": self.close_code})
                raise GatewayClosed(
                    f"The socket was closed with code {self.close_code}.", self.close_code
                )

    @staticmethod
    def _decode(message: Message) -> dict[str, Any]:
        text = message.get("text")
        if text is None:
            return {"bytes": message.get("bytes")}
        decoded = json.loads(text)
        if not isinstance(decoded, dict):
            raise AssertionError(f"The gateway sent a frame that is not an object: {text!r}.")
        return decoded

    async def _next_message(self, timeout: float) -> Message:
        """The next message the application sent; never cancels the application."""
        task = self._require_task()
        output = self._output
        assert output is not None
        if not output.empty():
            return output.get_nowait()
        if self.close_code is not None and task.done():
            raise GatewayClosed(f"The socket is closed (code {self.close_code}).", self.close_code)
        getter = asyncio.ensure_future(output.get())
        try:
            await asyncio.wait({getter, task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()
                await asyncio.gather(getter, return_exceptions=True)
        if getter.done() and not getter.cancelled():
            return getter.result()
        if task.done():
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
            raise GatewayClosed("The application has ended.", self.close_code)
        raise TimeoutError(f"No message from the application within {timeout}s.")
