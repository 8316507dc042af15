"""End a socket when the credentials it was opened with end.

:class:`CredentialLifetimeMiddleware` wraps any websocket application (a
``Gateway``, a consumer). For an authenticated socket it

* joins the user's channel-layer group (:func:`~streams.auth.credentials.user_group`),
  where :mod:`streams.auth.revocation` announces logouts, deleted sessions,
  password changes, deactivated users and revoked tokens from any process;
* sets a timer at the credential's expiry (a session's expiry date, a JWT's
  ``exp``), so an expired credential ends the socket without waiting for the
  client to send anything;

and when the credential ends it closes the socket with code **4401** and the
reason (``logged_out``, ``session_expired``, ...) as the close reason, then
tells the application ``websocket.disconnect`` (so consumers leave their
groups and cancel their tasks as on any disconnect). Whatever the application
sends afterwards is dropped.

Anonymous sockets pass straight through: no group, no task, no cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from channels.layers import get_channel_layer

from streams import layer_ops
from streams.auth.credentials import Credential, credential_from_scope, user_group
from streams.cancellation import cancel_and_wait, cancel_requested

__all__ = ["CLOSE_CODE", "MESSAGE_TYPE", "CredentialLifetimeMiddleware"]

logger = logging.getLogger(__name__)

#: Close code of a socket whose credentials ended (like HTTP 401: authenticate again).
CLOSE_CODE = 4401
#: Type of the channel-layer messages announcing a credential change.
MESSAGE_TYPE = "streams.credentials"
#: Client frames waiting between the server and the application.
INBOX_SIZE = 8
#: Back-off (seconds) while the channel layer is unreachable.
RETRY_MIN, RETRY_MAX = 0.1, 5.0
#: asyncio cannot wait longer than this in one call_later on every platform.
LONGEST_TIMER = 86400.0
#: Seconds between re-joins of the user's group: channel layers expire group
#: memberships (channels_redis and the in-memory layer: after a day), and a
#: socket may well stay open longer.
GROUP_REFRESH = 3600.0


class CredentialLifetimeMiddleware:
    """ASGI middleware: authenticated sockets live only as long as their credentials.

    Place it inside the middleware that authenticates (so ``scope["user"]`` is
    resolved): ``AuthMiddlewareStack(CredentialLifetimeMiddleware(app))``, or
    use :func:`streams.auth.AuthMiddlewareStack`, which does both and accepts
    tokens too.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") != "websocket":
            return await self.inner(scope, receive, send)
        credential = await credential_from_scope(scope)
        if credential is None:
            return await self.inner(scope, receive, send)
        return await _Watch(credential, receive, send).serve(self.inner, scope)


class _Watch:
    """One authenticated socket: relays messages both ways until its credential ends."""

    def __init__(self, credential: Credential, receive: Any, send: Any) -> None:
        self.credential = credential
        self.ended: str | None = None
        self._receive = receive
        self._send = send
        self._send_lock = asyncio.Lock()
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(INBOX_SIZE)
        self._timer: asyncio.TimerHandle | None = None
        self._refresh: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def serve(self, inner: Any, scope: dict[str, Any]) -> Any:
        self._spawn(self._pump())
        self._spawn(self._listen())
        self._schedule()
        try:
            return await inner(scope, self.receive, self.send)
        finally:
            for handle in (self._timer, self._refresh):
                if handle is not None:
                    handle.cancel()
            # Cancelled until they have ended: a cancellation can be lost in a
            # redis-py call (streams.cancellation), which would keep the
            # listener, and its group membership, after the socket.
            await asyncio.gather(*(cancel_and_wait(task) for task in list(self._tasks)))

    # -------------------------------------------------- towards the application
    async def receive(self) -> dict[str, Any]:
        return await self._inbox.get()

    async def send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            if self.ended is None:
                await self._send(message)

    # ------------------------------------------------------------- background
    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pump(self) -> None:
        """Server -> application, bounded so a flooding client is held back."""
        while True:
            message = await self._receive()
            await self._inbox.put(message)
            if message.get("type") == "websocket.disconnect":
                return

    async def _listen(self) -> None:
        """Wait in the user's group for announcements about this user's credentials."""
        layer = get_channel_layer()
        if layer is None:
            return  # timers still end expired credentials
        group = user_group(self.credential.user_pk)
        channel = await layer.new_channel()
        delay = RETRY_MIN
        joined = False
        try:
            while True:
                try:
                    if not joined:
                        await layer.group_add(group, channel)
                        joined = True
                        delay = RETRY_MIN
                        self._refresh_later(layer, group, channel)
                    message = await layer.receive(channel)
                    if cancel_requested():
                        return  # the socket is gone; a cancellation was swallowed
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if cancel_requested():
                        # Not an outage: the cancellation surfaced as a redis error.
                        raise asyncio.CancelledError() from exc
                    logger.warning(
                        "credential watch: channel layer unreachable (%s); retrying. "
                        "Logouts elsewhere are not seen meanwhile (expiry timers still run).",
                        exc,
                    )
                    joined = False
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX)
                    continue
                if message.get("type") == MESSAGE_TYPE:
                    reason = await self._judge(message)
                    if reason is not None:
                        await self.end(reason)
                        return
        finally:
            layer_ops.forget_channel(layer, channel)
            if joined:
                with contextlib.suppress(Exception):
                    await asyncio.shield(layer.group_discard(group, channel))

    def _refresh_later(self, layer: Any, group: str, channel: str) -> None:
        """Join the group again in ``GROUP_REFRESH`` seconds, and then again.

        A timer, not a sleeping task: idle sockets hold a handle, not a task.
        """

        async def refresh() -> None:
            try:
                await layer.group_add(group, channel)
            except Exception as exc:  # the listener re-joins after an outage anyway
                logger.warning("credential watch: could not refresh the user group (%s)", exc)
            self._refresh_later(layer, group, channel)

        if self._refresh is not None:
            self._refresh.cancel()
        loop = asyncio.get_running_loop()
        self._refresh = loop.call_later(GROUP_REFRESH, lambda: self._spawn(refresh()))

    async def _judge(self, message: dict[str, Any]) -> str | None:
        """Does this announcement end this socket? Named credentials: by digest;
        otherwise (password changed, user deactivated) ask the store again."""
        reason = message.get("reason")
        target = message.get("digest")
        if target is not None:
            return str(reason) if target == self.credential.digest else None
        return await self.credential.check()

    def _schedule(self) -> None:
        expires_at = self.credential.expires_at
        if expires_at is None:
            return
        delay = min(max(expires_at - time.time(), 0.0), LONGEST_TIMER)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(delay, lambda: self._spawn(self._on_timer()))

    async def _on_timer(self) -> None:
        self._timer = None
        reason = await self.credential.check()
        if reason is not None:
            await self.end(reason)
        else:
            self._schedule()  # the expiry moved (a session saved meanwhile)

    async def end(self, reason: str) -> None:
        """Close the socket (4401, ``reason``) and disconnect the application."""
        if self.ended is not None:
            return
        async with self._send_lock:
            self.ended = reason
            logger.info(
                "credential watch: %s credential ended (%s); closing", self.credential.kind, reason
            )
            with contextlib.suppress(Exception):
                await self._send({"type": "websocket.close", "code": CLOSE_CODE, "reason": reason})
        # Frames still waiting are moot: the application hears the disconnect next.
        while not self._inbox.empty():
            self._inbox.get_nowait()
        self._inbox.put_nowait({"type": "websocket.disconnect", "code": CLOSE_CODE})
