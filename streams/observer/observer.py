"""``Observer``: events for any Django signal (``@observer(user_logged_in)``).

Unlike model events these are sent when the signal fires, not after a commit:
a signal has no transaction to wait for. The body is the ``serializer`` hook's
result (``{}`` without one); the default groups put every event in one group.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.dispatch import Signal

from streams.observer import sending
from streams.observer.base_observer import BaseObserver
from streams.observer.events import to_jsonable

logger = logging.getLogger(__name__)


class Observer(BaseObserver):
    def __init__(
        self,
        func: Callable[..., Any],
        signal: Signal,
        kwargs: dict[str, Any] | None = None,
        partition: str = "*",
        history: Any = None,
    ) -> None:
        if not isinstance(signal, Signal):
            raise TypeError(
                f"@observer needs a django.dispatch.Signal, got {signal!r} (on {func.__qualname__})."
            )
        super().__init__(func, partition=partition, history=history)
        self.signal = signal
        self.signal_kwargs = dict(kwargs or {})
        # The receiver is this observer's bound method: weak=False keeps it alive
        # as long as the signal, like the consumer class that defines it.
        self.signal_kwargs.setdefault("dispatch_uid", f"streams.observer:{self.observer_id}")
        signal.connect(self.handle, weak=False, **self.signal_kwargs)

    def default_group_suffixes(self, *args: Any, **kwargs: Any) -> tuple[str, ...]:
        return ("signal",)

    def handle(self, signal: Signal, *args: Any, **kwargs: Any) -> None:
        """The signal receiver: serialize once, send one message per group."""
        try:
            body = to_jsonable(
                self._serializer(self, signal, *args, **kwargs) if self._serializer else {}
            )
            groups = list(dict.fromkeys(self.group_names_for_signal(*args, **kwargs)))
        except Exception:
            logger.exception("%r: signal event dropped (a hook raised).", self)
            return
        message = {"type": self.message_type, "body": body}
        policy = self.history_policy
        if policy is None:
            sending.send_from_sync([(group, dict(message, group=group)) for group in groups])
        else:
            sending.send_from_sync(
                [(group, dict(message, group=group), policy) for group in groups]
            )
