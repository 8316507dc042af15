"""``AsyncAPIConsumer``: a JSON websocket consumer that dispatches messages to actions.

A message ``{"action": A, "request_id": R, **kwargs}`` runs the method
registered as action ``A`` and, when it returns ``(data, status)``, sends::

    {"errors": [], "data": data, "action": A, "response_status": status, "request_id": R}

Every failure becomes such a reply with an error status; the socket stays open.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

from asgiref.sync import async_to_sync
from channels.db import aclose_old_connections
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.db import transaction
from rest_framework.exceptions import MethodNotAllowed, PermissionDenied
from rest_framework.utils.encoders import JSONEncoder

from streams import layer_ops
from streams.decorators import ActionSpec, get_action_spec
from streams.errors import SERVER_ERROR_MESSAGE, ActionError, exception_to_reply
from streams.permissions import BasePermission, get_permission_instances
from streams.settings import api_settings
from streams.threads import run_in_action_thread

logger = logging.getLogger(__name__)

# ASGI extension the gateway sets when it accepts decoded JSON in "json" keys.
GATEWAY_JSON_EXTENSION = "channels_gateway.json"

# Top-level message keys that would collide with the parameters of actions or
# permission hooks (``has_permission(scope, consumer, action, **kwargs)``).
RESERVED_KWARGS = frozenset({"self", "scope", "consumer"})

MISSING_ACTION_MESSAGE = "Unable to find action in message body."

# Back-off (seconds) while the channel layer is unreachable.
LAYER_RETRY_MIN, LAYER_RETRY_MAX = 0.1, 2.0


@dataclass(frozen=True, slots=True)
class _SyncCall:
    """A validated call of a sync action, waiting to run in a batch."""

    entry: RegisteredAction
    kwargs: dict[str, Any]
    call_kwargs: dict[str, Any]


@dataclass(frozen=True)
class RegisteredAction:
    """An entry of a consumer class's action registry."""

    name: str
    attribute: str
    spec: ActionSpec
    signature: inspect.Signature


def _build_action_registry(cls: type) -> Mapping[str, RegisteredAction]:
    registry: dict[str, RegisteredAction] = {}
    for attribute in dir(cls):
        if attribute.startswith("__"):
            continue
        member = inspect.getattr_static(cls, attribute, None)
        func = getattr(member, "__func__", member)
        spec = get_action_spec(func)
        if spec is None or not callable(func):
            continue
        name = spec.name or attribute
        if name in registry:
            raise TypeError(
                f"{cls.__qualname__} registers the action {name!r} twice (methods "
                f"{registry[name].attribute!r} and {attribute!r}); give one of them another "
                "@action(name=...)."
            )
        registry[name] = RegisteredAction(name, attribute, spec, inspect.signature(func))
    return MappingProxyType(registry)


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _resolved_in_thread(decision: Any) -> Any:
    """A permission hook's answer, from a database thread: async hooks are
    awaited on the event loop."""
    if inspect.isawaitable(decision):
        return async_to_sync(_await)(decision)
    return decision


def _denied_by(permission: Any) -> PermissionDenied:
    return PermissionDenied(detail=getattr(permission, "message", None))


def _bounded_request_id(request_id: Any) -> bool:
    """Is ``request_id`` small enough, and JSON enough, to echo back?

    A string is measured in characters, anything else as the JSON the reply
    would carry. ``NaN`` and infinities (Python reads ``1e309`` as infinity)
    have no JSON form, so they are refused too.
    """
    if request_id is None or isinstance(request_id, bool):
        return True
    limit = api_settings.MAX_REQUEST_ID_LENGTH
    if isinstance(request_id, str):
        return len(request_id) <= limit
    if isinstance(request_id, int) and -(10**15) < request_id < 10**15:
        return True
    try:
        return len(json.dumps(request_id, allow_nan=False)) <= limit
    except (TypeError, ValueError):
        return False


class AsyncAPIConsumer(AsyncJsonWebsocketConsumer):
    """Websocket consumer whose ``@action`` methods clients call by name.

    Subclasses declare actions with :func:`streams.decorators.action`; only those
    are callable. ``permission_classes`` default to
    ``api_settings.DEFAULT_PERMISSION_CLASSES``.
    """

    #: Tells the gateway this consumer takes decoded JSON (see ``gateway``).
    gateway_json: ClassVar[bool] = True

    permission_classes: Any = None

    #: The action registry, built once per class from its ``@action`` methods.
    #: Read-only: ``MappingProxyType``.
    actions: ClassVar[Mapping[str, RegisteredAction]] = MappingProxyType({})

    #: Most queued frames served together when the gateway has several waiting.
    max_batch_size: ClassVar[int] = 32

    #: Whether this class may serve queued frames in batches: only when it keeps
    #: the message-handling hooks batching replaces (see ``_BATCH_HOOKS``).
    _batching: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.actions = _build_action_registry(cls)
        cls._batching = all(
            inspect.getattr_static(cls, hook) is inspect.getattr_static(AsyncAPIConsumer, hook)
            for hook in _BATCH_HOOKS
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._detached_tasks: set[asyncio.Task[Any]] = set()
        # Client frames wait here for the frame worker (see dispatch). Bounded:
        # when it is full, dispatch waits, so the socket (or the gateway's
        # stream queue) holds the backlog and the gateway's limits apply.
        self._frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self.max_batch_size)
        self._frame_worker: asyncio.Task[None] | None = None
        self._layer_loop: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ policy
    @property
    def available_actions(self) -> Mapping[str, str]:
        """DCRF's name for the registry: action name -> method name."""
        return {name: entry.attribute for name, entry in self.actions.items()}

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
                raise _denied_by(permission)

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
            if not _resolved_in_thread(decision):
                raise _denied_by(permission)

    # ------------------------------------------------------------- connection
    async def websocket_connect(self, message: dict[str, Any]) -> None:
        try:
            for permission in await self.get_permissions(action="connect"):
                allowed = permission.can_connect(scope=self.scope, consumer=self, message=message)
                if inspect.isawaitable(allowed):
                    allowed = await allowed
                if not allowed:
                    raise PermissionDenied()
        except PermissionDenied:
            await self.close(code=4003)
            return
        await super().websocket_connect(message)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        # The client is gone: frames still waiting have nobody to answer, and an
        # action still running has nobody to reply to.
        # The channel-layer loop stops first: a group handler running while the
        # groups are left could join one again or start a task, and a layer
        # coming back from an outage would re-join them all.
        tasks = [self._frame_worker, self._layer_loop]
        self._frame_worker = self._layer_loop = None
        current = asyncio.current_task()
        for task in tasks:
            if task is not None and task is not current:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
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
        loop starts once the socket is accepted (nothing may be sent before),
        and its handler errors are logged rather than ending the stream.
        """
        self.scope = scope
        self.base_send = send
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        started = False
        try:
            while True:
                message = await receive()
                await self.dispatch(message)
                if not started and self.channel_layer is not None:
                    started = True
                    self._layer_loop = asyncio.ensure_future(self._serve_layer())
        except StopConsumer:
            pass
        finally:
            layer_loop, self._layer_loop = self._layer_loop, None
            if layer_loop is not None:
                layer_loop.cancel()
                await asyncio.gather(layer_loop, return_exceptions=True)

    async def _serve_layer(self) -> None:
        while True:
            message = await self.channel_receive()
            try:
                await self.dispatch(message)
            except Exception:
                logger.exception(
                    "%s: handling the channel-layer message %r failed",
                    type(self).__qualname__,
                    message.get("type"),
                )

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Client frames skip AsyncConsumer's per-message close_old_connections
        # hop: sync actions do that housekeeping inside their own thread hop and
        # async actions do it in handle_action, so it costs one hop, not two.
        if message.get("type") == "websocket.receive":
            # Client frames are served in order by a worker task, so that
            # channel-layer events (observer pushes) keep flowing while a slow
            # action runs.
            if self._frame_worker is None or self._frame_worker.done():
                self._frame_worker = asyncio.ensure_future(self._serve_frames())
            await self._frames.put(message)
        else:
            await super().dispatch(message)

    # ---------------------------------------------------- channel-layer outages
    # Channels' AsyncConsumer.__call__ assigns ``self.channel_receive`` and lets
    # any exception of ``channel_layer.receive`` end the consumer: with Redis
    # down every socket's streams would die. This property takes that
    # assignment and hands Channels a receive that waits for the layer to come
    # back instead (requests and replies never need the layer meanwhile).
    @property
    def channel_receive(self) -> Callable[[], Any]:
        return self._receive_from_layer

    @channel_receive.setter
    def channel_receive(self, receive: Callable[[], Any]) -> None:
        self.__dict__["_layer_receive"] = receive

    async def _receive_from_layer(self) -> Any:
        delay = LAYER_RETRY_MIN
        failed = False
        while True:
            try:
                if failed:
                    await self._rejoin_groups()
                    failed = False
                return await self.__dict__["_layer_receive"]()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if delay == LAYER_RETRY_MIN:
                    logger.warning(
                        "%s: channel layer unreachable (%s); retrying. Subscriptions get no "
                        "events until it is back.",
                        type(self).__qualname__,
                        exc,
                    )
                failed = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, LAYER_RETRY_MAX)

    async def _rejoin_groups(self) -> None:
        """Join this consumer's groups again: a restarted Redis has forgotten them."""
        groups = list(getattr(self, "groups", None) or [])
        for group in groups:
            await layer_ops.group_add(self.channel_layer, group, self.channel_name)
        logger.warning(
            "%s: channel layer reachable again; %d group(s) re-joined.",
            type(self).__qualname__,
            len(groups),
        )

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
        action = content.get("action")
        request_id = content.get("request_id")
        if not _bounded_request_id(request_id):
            await self.reply(
                action=action if isinstance(action, str) else None,
                errors=["request_id is too large to echo back."],
                status=400,
            )
            return
        message_kwargs = {k: v for k, v in content.items() if k not in ("action", "request_id")}
        await self.handle_action(action, request_id, **message_kwargs)

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
            method = getattr(self, entry.attribute)
            call_kwargs = dict(kwargs, action=action, request_id=request_id)
            try:
                entry.signature.bind(self, **call_kwargs)
            except TypeError as exc:
                raise ActionError(f"Invalid arguments for action {action!r}: {exc}.", 400) from exc
            if entry.spec.detached:
                self.start_detached(self._run_detached(entry, method, call_kwargs))
                return
            if entry.spec.is_async:
                await aclose_old_connections()
                result = await method(**call_kwargs)
            else:
                result = await self._run_sync_action(entry, call_kwargs)
        except Exception as exc:
            await self.handle_exception(exc, action=action, request_id=request_id)
            return
        await self._reply_result(action, request_id, result)

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
        if not _bounded_request_id(request_id):
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
            if not _resolved_in_thread(decision):
                raise _denied_by(permission)

    def _call_sync(self, entry: RegisteredAction, call_kwargs: dict[str, Any]) -> Any:
        method = getattr(self, entry.attribute)
        if entry.spec.is_atomic():
            with transaction.atomic():
                return method(**call_kwargs)
        return method(**call_kwargs)

    async def _run_detached(
        self, entry: RegisteredAction, method: Any, call_kwargs: dict[str, Any]
    ) -> None:
        action, request_id = call_kwargs["action"], call_kwargs["request_id"]
        try:
            result = await method(**call_kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self.handle_exception(exc, action=action, request_id=request_id)
            return
        await self._reply_result(action, request_id, result)

    async def _run_sync_action(self, entry: RegisteredAction, call_kwargs: dict[str, Any]) -> Any:
        return await run_in_action_thread(self._call_sync, entry, call_kwargs)

    async def _reply_result(self, action: str, request_id: Any, result: Any) -> None:
        # DCRF sends a reply only for a (data, status) tuple; anything else means
        # the action replied (or chose not to) itself.
        if isinstance(result, tuple) and len(result) == 2:
            data, status = result
            await self.reply(action=action, data=data, status=status, request_id=request_id)

    async def handle_exception(self, exc: Exception, action: str | None, request_id: Any) -> None:
        """Turn ``exc`` into an error reply; unexpected errors are logged, not shown.

        The log record names the stream (under a gateway), the action and the
        request_id, in the message and as record attributes (``stream``,
        ``action``, ``request_id``) for structured log handlers.
        """
        status, errors = exception_to_reply(exc)
        if status >= 500:
            stream = getattr(self.scope.get("gateway"), "stream", None)
            logger.error(
                "%s: action %r (stream %r, request_id %r) failed",
                type(self).__qualname__,
                action,
                stream,
                request_id,
                exc_info=exc,
                extra={"stream": stream, "action": action, "request_id": request_id},
            )
        await self.reply(action=action, errors=errors, status=status, request_id=request_id)

    # ------------------------------------------------------------------- send
    async def reply(
        self,
        action: str | None,
        data: Any = None,
        errors: list[Any] | None = None,
        status: int = 200,
        request_id: Any = None,
    ) -> None:
        await self.send_json(
            {
                "errors": errors if errors is not None else [],
                "data": data,
                "action": action,
                "response_status": status,
                "request_id": request_id,
            }
        )

    async def send_json(self, content: Any, close: bool = False) -> None:
        if GATEWAY_JSON_EXTENSION in self.scope.get("extensions", {}):
            await self.base_send({"type": "websocket.send", "json": content})
            if close:
                await self.close(close)
            return
        try:
            text = await self.encode_json(content)
        except (TypeError, ValueError, RecursionError):
            # Standalone there is no gateway to turn this into a 500 frame, and
            # the exception would end the frame worker, silently dropping the
            # frames queued behind this one. Answer like the gateway does.
            logger.exception("%s: a reply cannot be encoded as JSON", type(self).__qualname__)
            action, request_id = (
                (content.get("action"), content.get("request_id"))
                if isinstance(content, dict)
                else (None, None)
            )
            text = await self.encode_json(
                {
                    "errors": [SERVER_ERROR_MESSAGE],
                    "data": None,
                    "action": action if isinstance(action, str) else None,
                    "response_status": 500,
                    "request_id": request_id if _bounded_request_id(request_id) else None,
                }
            )
        await super().send(text_data=text, close=close)

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        # DRF's encoder handles what serializers may leave in data (Decimal,
        # datetime, UUID, lazy strings...).
        return json.dumps(content, cls=JSONEncoder)

    # ---------------------------------------------------------- background work
    def start_detached(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coroutine`` as a task that is cancelled when the socket closes."""
        task = asyncio.ensure_future(coroutine)
        self._detached_tasks.add(task)
        task.add_done_callback(self._detached_tasks.discard)
        return task

    async def cancel_detached_tasks(self) -> None:
        # Iterate over a copy: finishing tasks remove themselves from the set.
        tasks = list(self._detached_tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._detached_tasks.clear()


_UNDECODABLE = object()

# Hooks that frame batching replaces with its own path; a subclass overriding
# any of them is served one frame at a time so the override always runs.
_BATCH_HOOKS = (
    "websocket_receive",
    "receive_json",
    "decode_json",
    "handle_action",
    "get_permissions",
    "check_permissions",
)


def __getattr__(name: str) -> Any:
    # view_as_consumer lives in streams.views (it needs this module); DCRF users
    # import it from here, so resolve it lazily to avoid an import cycle.
    if name in ("view_as_consumer", "DjangoViewAsConsumer"):
        from streams import views

        return getattr(views, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
