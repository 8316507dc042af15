"""The consumer's side of the channel layer: a receive loop that survives outages.

Channels ends a consumer when ``channel_layer.receive`` raises, so with Redis
down every socket's streams would die. ``ChannelLayerMixin`` serves
channel-layer messages in a loop of their own (logging handler errors instead
of ending the stream), backs off and retries while the layer is unreachable,
and re-joins the consumer's groups when it is back.

The loop starts lazily: only once the socket is accepted *and* something has
read ``channel_name`` (joining a group, a subscription, user code handing the
name out). Nothing can send to a channel whose name nobody has read, and the
layer keeps what is sent before the loop runs, so no message is missed; a
stream that never subscribes holds no loop task and, with the in-memory layer,
no channel queue. Most streams of an idle connection are such streams.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gateway import metrics
from streams import layer_ops
from streams.cancellation import cancel_requested
from streams.settings import api_settings

logger = logging.getLogger("streams.consumers")

# Back-off (seconds) while the channel layer is unreachable.
LAYER_RETRY_MIN, LAYER_RETRY_MAX = 0.1, 2.0

# States of the layer loop (``_layer_state``).
_WAITING, _READY, _STARTED, _CLOSED = range(4)


async def _together(tasks: list[asyncio.Task[Any]]) -> None:
    """Wait for ``tasks``; cancelling this cancels them all and waits for them."""
    await asyncio.gather(*tasks)


class ChannelLayerMixin:
    """Channel-layer receive loop and group re-joining for ``AsyncAPIConsumer``."""

    if TYPE_CHECKING:
        channel_layer: Any
        groups: list[str]
        _layer_loop: asyncio.Task[None] | None

        async def dispatch(self, message: dict[str, Any]) -> None: ...

    # ------------------------------------------------------------------ groups
    async def add_group(self, name: str) -> None:
        """Join the channel-layer group ``name`` (DCRF's method); left on disconnect.

        Joining a group twice is one membership. The group is also re-joined
        after a channel-layer outage, like the class's ``groups``.
        """
        layer = self._group_layer("add_group")
        groups = self._group_list()
        if name in groups:
            return
        await layer_ops.group_add(layer, name, self.channel_name)
        groups.append(name)

    async def remove_group(self, name: str) -> None:
        """Leave the channel-layer group ``name``; nothing happens if not a member."""
        layer = self._group_layer("remove_group")
        groups = self._group_list()
        if name not in groups:
            return
        groups.remove(name)
        await layer_ops.group_discard(layer, name, self.channel_name)

    def _group_list(self) -> list[str]:
        # Channels' ``groups`` may be a class-level list or tuple shared by every
        # instance: give this instance its own list before changing it.
        groups = self.__dict__.get("groups")
        if not isinstance(groups, list):
            groups = list(getattr(self, "groups", None) or ())
            self.groups = groups
        return groups

    def _group_layer(self, method: str) -> Any:
        if self.channel_layer is None:
            raise RuntimeError(
                f"{type(self).__qualname__}.{method}() needs a channel layer: set "
                "CHANNEL_LAYERS in settings (e.g. channels.layers.InMemoryChannelLayer for one "
                "process, channels_redis for several)."
            )
        return self.channel_layer

    #: Where the layer loop is: waiting for accept, ready (accepted, nobody read
    #: ``channel_name`` yet), started, closed (disconnecting: never again).
    _layer_state: int = _WAITING
    _channel_name_read: bool = False

    # ------------------------------------------------------------- lazy start
    @property
    def channel_name(self) -> str:
        """This consumer's channel; reading it starts the layer loop (see module doc)."""
        try:
            name: str = self.__dict__["_channel_name"]
        except KeyError:
            raise AttributeError(
                f"{type(self).__qualname__!r} has no channel_name: no channel layer is "
                "configured (CHANNEL_LAYERS), or the consumer has not started yet."
            ) from None
        self._channel_name_read = True
        if self._layer_state == _READY:
            self._start_layer_loop_soon()
        return name

    @channel_name.setter
    def channel_name(self, name: str) -> None:
        self.__dict__["_channel_name"] = name

    def _layer_accepting(self) -> None:
        """The socket is accepted: start the loop now if the name was read, else on first read."""
        if self._layer_state != _WAITING or "_channel_name" not in self.__dict__:
            return
        self._layer_state = _READY
        self._layer_event_loop = asyncio.get_running_loop()
        if self._channel_name_read:
            self._start_layer_loop()

    def _start_layer_loop_soon(self) -> None:
        # channel_name may be read in an action thread (async_to_sync(group_add)):
        # the task must be created on the consumer's own event loop.
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._layer_event_loop:
            self._start_layer_loop()
        else:
            self._layer_event_loop.call_soon_threadsafe(self._start_layer_loop)

    def _start_layer_loop(self) -> None:
        if self._layer_state != _READY:
            return
        self._layer_state = _STARTED
        self._layer_loop = asyncio.ensure_future(self._serve_layer())
        self._refresh_groups_later()

    def _layer_closing(self) -> asyncio.Future[None] | None:
        """Never start the loop again; return the running one (for the caller to cancel)."""
        self._layer_state = _CLOSED
        timer = self.__dict__.pop("_group_refresh", None)
        if timer is not None:
            timer.cancel()
        loop, self._layer_loop = self._layer_loop, None
        refresh = self.__dict__.pop("_group_refresh_task", None)
        if refresh is None or refresh.done():
            return loop
        # A refresh under way must end before the groups are left, or it could
        # join one again after the leave: the caller cancels and awaits both.
        running = [task for task in (loop, refresh) if task is not None]
        return asyncio.ensure_future(_together(running))

    # ------------------------------------------------------ periodic re-join
    # A Redis shard restarted while this consumer's channel lives on another
    # shard forgets its groups, and this consumer's receive never fails, so
    # the outage handling below never re-joins them; channels_redis also
    # expires memberships after its group_expiry (a day). Re-joining every
    # LAYER_GROUP_REFRESH seconds bounds both. A timer, not a sleeping task:
    # an idle consumer holds a handle; the interval is jittered so that
    # consumers started together do not refresh together.
    def _refresh_groups_later(self) -> None:
        interval = api_settings.LAYER_GROUP_REFRESH
        if interval is None or self._layer_state != _STARTED:
            return
        delay = float(interval) * random.uniform(0.75, 1.25)
        self.__dict__["_group_refresh"] = asyncio.get_running_loop().call_later(
            delay, self._spawn_group_refresh
        )

    def _spawn_group_refresh(self) -> None:
        task = asyncio.ensure_future(self._refresh_groups())
        self.__dict__["_group_refresh_task"] = task  # held until it ends

    async def _refresh_groups(self) -> None:
        try:
            groups = list(getattr(self, "groups", None) or [])
            if groups and self._layer_state == _STARTED:
                for group in groups:
                    await layer_ops.group_add(self.channel_layer, group, self.channel_name)
        except Exception as exc:  # an outage: the receive loop re-joins when it is back
            logger.info("%s: could not refresh its groups (%s)", type(self).__qualname__, exc)
        finally:
            self.__dict__.pop("_group_refresh_task", None)
            self._refresh_groups_later()

    async def _serve_layer(self) -> None:
        try:
            while True:
                message = await self.channel_receive()
                if cancel_requested():
                    return  # stopping: a cancellation was swallowed on the way
                try:
                    await self.dispatch(message)
                except Exception:
                    logger.exception(
                        "%s: handling the channel-layer message %r failed",
                        type(self).__qualname__,
                        message.get("type"),
                    )
        finally:
            layer_ops.forget_channel(self.channel_layer, getattr(self, "channel_name", None))

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
                if cancel_requested():
                    # Not an outage: the consumer is stopping, and the library
                    # turned (or swallowed) the cancellation into this error.
                    raise asyncio.CancelledError() from exc
                metrics.layer_error("receive")
                if delay == LAYER_RETRY_MIN:
                    logger.warning(
                        "%s: channel layer unreachable (%s); retrying. Subscriptions get no "
                        "events until it is back.",
                        type(self).__qualname__,
                        exc,
                    )
                failed = True
                await asyncio.sleep(delay)
                metrics.layer_retry()
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
