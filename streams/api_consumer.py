"""``AsyncAPIConsumer``: a JSON websocket consumer that dispatches messages to actions.

A message ``{"action": A, "request_id": R, **kwargs}`` runs the method
registered as action ``A`` and, when it returns ``(data, status)``, sends::

    {"errors": [], "data": data, "action": A, "response_status": status, "request_id": R}

Every failure becomes such a reply with an error status; the socket stays open.

Import it from :mod:`streams.consumers` (DCRF's module path), which also
re-exports ``view_as_consumer``; this module cannot, since
:mod:`streams.views` builds on the consumer defined here.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Coroutine, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from channels.db import aclose_old_connections
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from rest_framework.exceptions import APIException, MethodNotAllowed, PermissionDenied

from streams import layer_ops
from streams.cancellation import cancel_and_wait
from streams.channel_layer import LAYER_RETRY_MAX, LAYER_RETRY_MIN, ChannelLayerMixin
from streams.errors import ActionError
from streams.frame_worker import (
    BATCH_HOOKS,
    FrameWorkerMixin,
    denied_by,
    resolved_in_thread,
)
from streams.permissions import BasePermission, get_permission_instances
from streams.registry import (
    RESERVED_KWARGS,
    APIConsumerMetaclass,
    RegisteredAction,
    build_action_registry,
)
from streams.replies import GATEWAY_JSON_EXTENSION, RepliesMixin, bounded_request_id
from streams.settings import api_settings
from streams.text import UNSTORABLE_TEXT_MESSAGE, unstorable_text_path
from streams.throttling import check_throttles

__all__ = [
    "GATEWAY_JSON_EXTENSION",
    "LAYER_RETRY_MAX",
    "LAYER_RETRY_MIN",
    "MISSING_ACTION_MESSAGE",
    "RESERVED_KWARGS",
    "APIConsumerMetaclass",
    "AsyncAPIConsumer",
    "RegisteredAction",
]

# The name users configure (DCRF's module path); replies.py logs there too.
logger = logging.getLogger("streams.consumers")

MISSING_ACTION_MESSAGE = "Unable to find action in message body."


class AsyncAPIConsumer(
    FrameWorkerMixin,
    ChannelLayerMixin,
    RepliesMixin,
    AsyncJsonWebsocketConsumer,
    metaclass=APIConsumerMetaclass,
):
    """Websocket consumer whose ``@action`` methods clients call by name.

    Subclasses declare actions with :func:`streams.decorators.action`; only those
    are callable. ``permission_classes`` default to
    ``api_settings.DEFAULT_PERMISSION_CLASSES``.
    """

    #: Tells the gateway this consumer takes decoded JSON (see ``gateway``).
    gateway_json: ClassVar[bool] = True

    permission_classes: Any = None

    #: DRF throttles (see :mod:`streams.throttling`); ``None``:
    #: ``api_settings.DEFAULT_THROTTLE_CLASSES``. ``@action(throttle_classes=...)``
    #: overrides them per action.
    throttle_classes: Any = None
    #: ``ScopedRateThrottle``'s scope for this consumer's actions.
    throttle_scope: str | None = None

    #: The action registry, built once per class from its ``@action`` methods.
    #: Read-only: ``MappingProxyType``.
    actions: ClassVar[Mapping[str, RegisteredAction]] = MappingProxyType({})

    #: DCRF's name for the registry, readable on the class: action name ->
    #: method name. Read-only, like ``actions``.
    available_actions: ClassVar[Mapping[str, str]] = MappingProxyType({})

    #: Most queued frames served together when the gateway has several waiting.
    max_batch_size: ClassVar[int] = 32

    #: Whether this class may serve queued frames in batches: only when it keeps
    #: the message-handling hooks batching replaces (see ``BATCH_HOOKS``).
    _batching: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.actions = build_action_registry(cls)
        cls.available_actions = MappingProxyType(
            {name: entry.attribute for name, entry in cls.actions.items()}
        )
        cls._batching = all(
            inspect.getattr_static(cls, hook) is inspect.getattr_static(AsyncAPIConsumer, hook)
            for hook in BATCH_HOOKS
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._detached_tasks: set[asyncio.Task[Any]] = set()
        # Client frames wait here for the frame worker (see dispatch). Bounded:
        # when it is full, dispatch waits, so the socket (or the gateway's
        # stream queue) holds the backlog and the gateway's limits apply.
        # Created with the frame worker, on the first frame: a stream that never
        # gets one (every stream is started on connect by the compat
        # demultiplexer) holds no queue.
        self._frames: asyncio.Queue[dict[str, Any]] | None = None
        self._frame_worker: asyncio.Task[None] | None = None
        self._layer_loop: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ policy

    def get_permission_classes(self) -> tuple[Any, ...]:
        classes = self.permission_classes
        if classes is None:
            classes = api_settings.DEFAULT_PERMISSION_CLASSES
        return tuple(classes)

    async def get_permissions(self, action: str, **kwargs: Any) -> list[BasePermission]:
        return get_permission_instances(self.get_permission_classes())

    async def check_permissions(self, action: str, **kwargs: Any) -> None:
        """Raise ``PermissionDenied`` unless every permission allows ``action``."""
        for permission in await self.get_permissions(action=action, **kwargs):
            allowed = permission.has_permission(
                scope=self.scope, consumer=self, action=action, **kwargs
            )
            if inspect.isawaitable(allowed):
                allowed = await allowed
            if not allowed:
                raise denied_by(permission)

    async def check_throttles(self, action: str, **kwargs: Any) -> None:
        """Raise DRF's ``Throttled`` (429) when a throttle of ``action`` refuses."""
        await check_throttles(self, action)

    def check_object_permissions(self, action: str, obj: Any, **kwargs: Any) -> None:
        """Raise ``PermissionDenied`` unless every permission allows ``action`` on ``obj``.

        Sync, because it runs where objects are loaded: inside sync actions, in
        the database thread. Async permission hooks are run on the event loop
        from there.
        """
        for permission in get_permission_instances(self.get_permission_classes()):
            decision = permission.has_object_permission(
                scope=self.scope, consumer=self, action=action, obj=obj, **kwargs
            )
            if not resolved_in_thread(decision):
                raise denied_by(permission)

    # ------------------------------------------------------------- connection
    async def websocket_connect(self, message: dict[str, Any]) -> None:
        try:
            for permission in await self.get_permissions(action="connect"):
                allowed = permission.can_connect(scope=self.scope, consumer=self, message=message)
                if inspect.isawaitable(allowed):
                    allowed = await allowed
                if not allowed:
                    raise PermissionDenied()
        except APIException:
            # PermissionDenied, or e.g. NotAuthenticated from a DRF permission
            # (DCRF let the latter crash the consumer).
            await self.close(code=4003)
            return
        await super().websocket_connect(message)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        # The client is gone: frames still waiting have nobody to answer, and an
        # action still running has nobody to reply to.
        # The channel-layer loop stops first: a group handler running while the
        # groups are left could join one again or start a task, and a layer
        # coming back from an outage would re-join them all.
        tasks = [self._frame_worker, self._layer_closing()]
        self._frame_worker = None
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                await cancel_and_wait(task)
        await self.cancel_detached_tasks()
        # Leave the groups here rather than in Channels' websocket_disconnect:
        # bounded (a wave of disconnects would exhaust a Redis pool), and a
        # layer that fails cannot stop the disconnect from completing.
        groups: list[str] = list(getattr(self, "groups", None) or ())
        self.groups: list[str] = []
        if self.channel_layer is not None:
            for group in groups:
                try:
                    await layer_ops.group_discard(self.channel_layer, group, self.channel_name)
                except Exception as exc:
                    logger.warning(
                        "%s: could not leave group %r (%s); the layer will expire it.",
                        type(self).__qualname__,
                        group,
                        exc,
                    )
        await super().websocket_disconnect(message)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve one connection: client messages here, channel-layer messages beside.

        Channels' own loop (``await_many_dispatch``) makes a task and an
        ``asyncio.wait`` per message so that it can wait on both sources; at
        thousands of frames a second that is a large part of the event loop's
        work. Here each source has a plain loop of its own. The channel-layer
        loop starts once the socket is accepted (nothing may be sent before)
        and ``channel_name`` has been read (see :mod:`streams.channel_layer`),
        and its handler errors are logged rather than ending the stream.
        """
        self.scope = scope
        self.base_send = send
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        if self.channel_layer is not None:
            # Not read back through the property: that would start the layer loop.
            channel_name = await self.channel_layer.new_channel()
            self.channel_name = channel_name
            self.channel_receive = functools.partial(self.channel_layer.receive, channel_name)
        started = False
        try:
            while True:
                message = await receive()
                await self.dispatch(message)
                if not started and self.channel_layer is not None:
                    started = True
                    self._layer_accepting()
        except StopConsumer:
            pass
        finally:
            layer_loop = self._layer_closing()
            await cancel_and_wait(layer_loop)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Client frames skip AsyncConsumer's per-message close_old_connections
        # hop: sync actions do that housekeeping inside their own thread hop and
        # async actions do it in handle_action, so it costs one hop, not two.
        if message.get("type") == "websocket.receive":
            # Client frames are served in order by a worker task, so that
            # channel-layer events (observer pushes) keep flowing while a slow
            # action runs.
            if self._frame_worker is None or self._frame_worker.done():
                if self._frames is None:
                    self._frames = asyncio.Queue(self.max_batch_size)
                self._frame_worker = asyncio.ensure_future(self._serve_frames())
            assert self._frames is not None
            await self._frames.put(message)
        else:
            await super().dispatch(message)

    # ---------------------------------------------------------------- receive
    async def websocket_receive(self, message: dict[str, Any]) -> None:
        if "json" in message:
            await self.receive_json(message["json"])
        elif message.get("text") is not None:
            try:
                content = await self.decode_json(message["text"])
            except (ValueError, RecursionError):
                await self.reply(action=None, errors=["Message is not valid JSON."], status=400)
                return
            await self.receive_json(content)
        else:
            await self.reply(
                action=None, errors=["Binary frames are not supported; send JSON text."], status=400
            )

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self.reply(action=None, errors=["Message must be a JSON object."], status=400)
            return
        request_id = content.get("request_id")
        if not bounded_request_id(request_id):
            action = content.get("action")
            await self.reply(
                action=action if isinstance(action, str) else None,
                errors=["request_id is too large to echo back."],
                status=400,
            )
            return
        unstorable = unstorable_text_path(content)
        if unstorable is not None:
            # Before any action or query: PostgreSQL would refuse the text (a
            # 500), and a lone surrogate cannot even be encoded in a reply.
            action = content.get("action")
            echo_action = isinstance(action, str) and unstorable_text_path(action) is None
            await self.reply(
                action=action if echo_action else None,
                errors=[{unstorable: [UNSTORABLE_TEXT_MESSAGE]}],
                status=400,
                request_id=request_id if unstorable_text_path(request_id) is None else None,
            )
            return
        rest = {k: v for k, v in content.items() if k != "request_id"}
        try:
            action, message_kwargs = await self.get_action_name(rest, **kwargs)
        except Exception as exc:
            # e.g. ActionMissingException from an override: an error reply.
            await self.handle_exception(exc, action=None, request_id=request_id)
            return
        await self.handle_action(action, request_id, **message_kwargs)

    async def get_action_name(
        self, content: dict[str, Any], **kwargs: Any
    ) -> tuple[Any, dict[str, Any]]:
        """Split a message into the action name and the action's keyword arguments.

        DCRF's hook, with its signature: override it when clients name the
        action under another key (e.g. ``type``). ``content`` is the message
        without ``request_id`` (a copy: change it freely). A message naming no
        action gets the 405 reply; an override may also raise
        ``streams.exceptions.ActionMissingException``.
        """
        action = content.pop("action", None)
        return action, content

    # ---------------------------------------------------------------- actions
    async def handle_action(self, action: Any, request_id: Any, /, **kwargs: Any) -> None:
        """Run ``action`` and reply. Parameters are positional-only so that any
        message key, even ``action`` or ``self``, lands in ``kwargs``."""
        if action is None:
            await self.reply(
                action=None, errors=[MISSING_ACTION_MESSAGE], status=405, request_id=request_id
            )
            return
        if not isinstance(action, str):
            await self.reply(
                action=None, errors=["action must be a string."], status=400, request_id=request_id
            )
            return
        entry = self.actions.get(action)
        try:
            if entry is None:
                raise MethodNotAllowed(method=action)
            reserved = RESERVED_KWARGS.intersection(kwargs)
            if reserved:
                raise ActionError(
                    f"{', '.join(sorted(reserved))}: reserved parameter name(s), not accepted "
                    "in a message.",
                    status=400,
                )
            await self.check_permissions(action, **kwargs)
            await self.check_throttles(action, **kwargs)
            method = getattr(self, entry.attribute)
            call_kwargs = dict(kwargs, action=action, request_id=request_id)
            try:
                entry.signature.bind(self, **call_kwargs)
            except TypeError as exc:
                raise ActionError(f"Invalid arguments for action {action!r}: {exc}.", 400) from exc
            if entry.spec.detached:
                self.start_detached(self._serve_async_action(entry, method, call_kwargs))
                return
            if entry.spec.is_async:
                await aclose_old_connections()
                await self._serve_async_action(entry, method, call_kwargs)
                return
            result = await self._run_sync_action(entry, call_kwargs)
        except Exception as exc:
            await self.handle_exception(exc, action=action, request_id=request_id)
            return
        await self._reply_result(action, request_id, result)

    async def _serve_async_action(
        self, entry: RegisteredAction, method: Any, call_kwargs: dict[str, Any]
    ) -> None:
        """Run an async action called from the wire and reply (errors included).

        The one place both awaited and detached async actions pass through, so
        a mixin can wrap their whole exchange (observers hold a subscription's
        pushes until the subscribe's reply is out).
        """
        action, request_id = call_kwargs["action"], call_kwargs["request_id"]
        try:
            result = await method(**call_kwargs)
        except Exception as exc:
            await self.handle_exception(exc, action=action, request_id=request_id)
            return
        await self._reply_result(action, request_id, result)

    # ---------------------------------------------------------- background work
    def start_detached(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coroutine`` as a task that is cancelled when the socket closes.

        A task that fails is logged with its traceback (as DCRF did), since a
        ``@detached`` method's caller has usually stopped waiting for it.
        """
        task = asyncio.ensure_future(coroutine)
        self._detached_tasks.add(task)
        task.add_done_callback(self._detached_done)
        return task

    def _detached_done(self, task: asyncio.Task[Any]) -> None:
        self._detached_tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            logger.error("%s: a detached task failed", type(self).__qualname__, exc_info=exc)

    async def cancel_detached_tasks(self) -> None:
        # Iterate over a copy: finishing tasks remove themselves from the set.
        tasks = list(self._detached_tasks)
        if tasks:
            await asyncio.gather(*(cancel_and_wait(task) for task in tasks))
        self._detached_tasks.clear()
