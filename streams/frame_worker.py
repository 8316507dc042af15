"""The frame worker: client frames served in order, sync actions batched into one hop.

A consumer's client frames wait in a bounded queue; one worker task per
consumer serves them in arrival order, so channel-layer events keep flowing
while a slow action runs. Consecutive frames calling sync actions run together
in one hop to an action thread (``streams.threads``): under load that hop and
Django's connection housekeeping around it are paid once per batch instead of
twice per message, which is most of the throughput gain over DCRF.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rest_framework.exceptions import PermissionDenied

from streams.decorators import run_sync_action
from streams.permissions import get_permission_instances
from streams.registry import RESERVED_KWARGS, RegisteredAction
from streams.replies import bounded_request_id
from streams.text import unstorable_text_path
from streams.threads import await_from_thread, run_in_action_thread
from streams.throttling import check_throttles_sync

# Hooks that frame batching replaces with its own path; a subclass overriding
# any of them is served one frame at a time so the override always runs.
BATCH_HOOKS = (
    "websocket_receive",
    "receive_json",
    "decode_json",
    "get_action_name",
    "handle_action",
    "get_permissions",
    "check_permissions",
    "check_throttles",
)

_UNDECODABLE = object()


@dataclass(frozen=True, slots=True)
class _SyncCall:
    """A validated call of a sync action, waiting to run in a batch."""

    entry: RegisteredAction
    kwargs: dict[str, Any]
    call_kwargs: dict[str, Any]


def resolved_in_thread(decision: Any) -> Any:
    """A permission hook's answer, from a database thread: async hooks are
    awaited on the event loop (without closing the action's transaction)."""
    if inspect.isawaitable(decision):
        return await_from_thread(decision)
    return decision


def denied_by(permission: Any) -> PermissionDenied:
    return PermissionDenied(detail=getattr(permission, "message", None))


class FrameWorkerMixin:
    """The frame worker of ``AsyncAPIConsumer``."""

    if TYPE_CHECKING:
        scope: Any
        actions: ClassVar[Mapping[str, RegisteredAction]]
        max_batch_size: ClassVar[int]
        _batching: ClassVar[bool]
        _frames: Any

        def get_permission_classes(self) -> tuple[Any, ...]: ...
        async def websocket_receive(self, message: dict[str, Any]) -> None: ...
        async def receive_json(self, content: Any, **kwargs: Any) -> None: ...
        async def _reply_result(self, action: str, request_id: Any, result: Any) -> None: ...
        async def handle_exception(
            self, exc: Exception, action: str | None, request_id: Any
        ) -> None: ...

    # ---------------------------------------------------- frames and batching
    async def _serve_frames(self) -> None:
        """The frame worker: serve client frames in arrival order, forever.

        It takes every frame already waiting (up to ``max_batch_size``) and
        serves them together: consecutive frames calling sync actions run in
        one hop to the database thread instead of one hop each, so under load
        (many requests in flight on one stream) the hop and the connection
        housekeeping around it are paid once per batch. Replies still go out in
        request order, each with its own permission check, transaction and
        error handling. Other frames are served one by one, in their place.
        """
        while True:
            frames = [await self._frames.get()]
            while len(frames) < self.max_batch_size and not self._frames.empty():
                frames.append(self._frames.get_nowait())
            if not self._batching:
                for frame in frames:
                    await self._serve_frame(frame)
                continue
            batch: list[_SyncCall] = []
            for frame in frames:
                content = self._decoded(frame)
                call = self._batchable_call(content)
                if call is not None:
                    batch.append(call)
                    continue
                if batch:
                    await self._run_batch(batch)
                    batch = []
                if content is _UNDECODABLE:
                    await self._serve_frame(frame)  # answers with the decoding error
                else:
                    await self.receive_json(content)
            if batch:
                await self._run_batch(batch)

    async def _serve_frame(self, frame: dict[str, Any]) -> None:
        try:
            await self.websocket_receive(frame)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Only an override of the message hooks can get here (handle_action
            # answers every failure itself); the socket lives on regardless.
            await self.handle_exception(exc, action=None, request_id=None)

    @staticmethod
    def _decoded(frame: dict[str, Any]) -> Any:
        """The frame's JSON content (decoded once), or ``_UNDECODABLE``."""
        if "json" in frame:
            return frame["json"]
        text = frame.get("text")
        if not isinstance(text, str):
            return _UNDECODABLE
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            return _UNDECODABLE

    def _batchable_call(self, content: Any) -> _SyncCall | None:
        """The message as a ready-to-run sync call, or None to serve it the usual way.

        Only messages that the usual path would certainly run are batched;
        every message that ends in an error reply takes the usual path, so the
        reply is the same either way.
        """
        if not isinstance(content, dict):
            return None
        action = content.get("action")
        entry = self.actions.get(action) if isinstance(action, str) else None
        if entry is None or entry.spec.is_async or entry.spec.detached:
            return None
        request_id = content.get("request_id")
        if not bounded_request_id(request_id) or unstorable_text_path(content) is not None:
            return None
        kwargs = {k: v for k, v in content.items() if k not in ("action", "request_id")}
        if not RESERVED_KWARGS.isdisjoint(kwargs):
            return None
        call_kwargs = dict(kwargs, action=action, request_id=request_id)
        try:
            entry.signature.bind(self, **call_kwargs)
        except TypeError:
            return None
        return _SyncCall(entry, kwargs, call_kwargs)

    async def _run_batch(self, calls: list[_SyncCall]) -> None:
        outcomes = await run_in_action_thread(self._run_sync_calls, calls)
        for call, (ok, value) in zip(calls, outcomes, strict=True):
            action, request_id = call.entry.name, call.call_kwargs["request_id"]
            if ok:
                await self._reply_result(action, request_id, value)
            else:
                await self.handle_exception(value, action=action, request_id=request_id)

    def _run_sync_calls(self, calls: list[_SyncCall]) -> list[tuple[bool, Any]]:
        """In the database thread: check permissions and run each call in turn."""
        outcomes: list[tuple[bool, Any]] = []
        for call in calls:
            try:
                self._check_permissions_sync(call.entry.name, **call.kwargs)
                check_throttles_sync(self, call.entry.name)
                outcomes.append((True, self._call_sync(call.entry, call.call_kwargs)))
            except Exception as exc:
                outcomes.append((False, exc))
        return outcomes

    def _check_permissions_sync(self, action: str, **kwargs: Any) -> None:
        """``check_permissions`` for the database thread (batching keeps that hook)."""
        for permission in get_permission_instances(self.get_permission_classes()):
            decision = permission.has_permission(
                scope=self.scope, consumer=self, action=action, **kwargs
            )
            if not resolved_in_thread(decision):
                raise denied_by(permission)

    def _call_sync(self, entry: RegisteredAction, call_kwargs: dict[str, Any]) -> Any:
        # The undecorated function: the method on the class is the wrapper for
        # calls from Python (streams.decorators), which would only re-check
        # where it runs.
        func = entry.spec.func
        if func is None:
            return run_sync_action(entry.spec, getattr(self, entry.attribute), **call_kwargs)
        return run_sync_action(entry.spec, func, self, **call_kwargs)

    async def _run_sync_action(self, entry: RegisteredAction, call_kwargs: dict[str, Any]) -> Any:
        return await run_in_action_thread(self._call_sync, entry, call_kwargs)
