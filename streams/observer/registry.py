"""The process-wide registry of model observers, and the signal receivers that feed them.

Receivers are connected per observed model only, and only to signals that
mean a write: ``post_save``, ``post_delete``, ``m2m_changed`` (when asked),
and ``pre_save`` while some observer of the model needs the groups an object
is leaving (see ``ModelObserver.tracks_moves``). Nothing is connected to
``post_init``: loading objects costs the same with or without observers.
(DCRF computed every instance's groups in ``post_init``.)

Observers register themselves when created, that is when the consumer module
defining them is imported. ``StreamsConfig.ready()`` imports those modules in
every process (see :mod:`streams.observer.discovery`), so a management command
or a worker that never imports a consumer still emits events.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from streams.observer import events, sending, transactions
from streams.observer.transactions import CREATE, DELETE, UPDATE, Change, MergedChange

if TYPE_CHECKING:
    from streams.observer.model_observer import ModelObserver

logger = logging.getLogger(__name__)

#: Where ``pre_save`` leaves the groups an object is in before the write.
OLD_GROUPS_ATTR = "_streams_observer_old_groups"
#: Where ``m2m_changed(pre_clear)`` leaves the pks a reverse clear will touch.
CLEARED_PKS_ATTR = "_streams_observer_cleared_pks"


class ObserverRegistry:
    """Model -> its observers (by observer id). Re-registering an id replaces the old one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._observers: dict[type[Model], dict[str, ModelObserver]] = {}
        self._m2m_connected: set[type[Model]] = set()

    def register(self, observer: ModelObserver) -> None:
        model = observer.model_cls
        with self._lock:
            observers = self._observers.setdefault(model, {})
            first = not observers
            observers[observer.observer_id] = observer
        if first:
            uid = f"streams.observer:{events.model_label(model)}"
            post_save.connect(_post_save, sender=model, weak=False, dispatch_uid=uid)
            post_delete.connect(_post_delete, sender=model, weak=False, dispatch_uid=uid)
        if first:
            _report_missing_app()
        self.hooks_changed(observer)
        if observer.many_to_many:
            self._connect_m2m(model)

    def hooks_changed(self, observer: ModelObserver) -> None:
        """Connect ``pre_save`` for the observer's model once some observer tracks moves.

        Called at registration and whenever an observer's group hooks change
        (they are usually set by decorators after the observer registered).
        Without such an observer the model has no ``pre_save`` receiver at
        all, so a write pays no signal dispatch for it.
        """
        if not observer.tracks_moves:
            return
        model = observer.model_cls
        uid = f"streams.observer:{events.model_label(model)}"
        pre_save.connect(_pre_save, sender=model, weak=False, dispatch_uid=uid)

    def _connect_m2m(self, model: type[Model]) -> None:
        with self._lock:
            if model in self._m2m_connected:
                return
            self._m2m_connected.add(model)
        for field in model._meta.many_to_many:
            through = field.remote_field.through
            m2m_changed.connect(
                _m2m_changed,
                sender=through,
                weak=False,
                dispatch_uid=f"streams.observer:{events.model_label(model)}:{field.name}",
            )

    def observers_for(self, model: type[Model]) -> tuple[ModelObserver, ...]:
        observers = self._observers.get(model)
        return tuple(observers.values()) if observers else ()

    def is_observed(self, model: type[Model]) -> bool:
        return bool(self._observers.get(model))

    def models(self) -> tuple[type[Model], ...]:
        return tuple(model for model, observers in self._observers.items() if observers)


registry = ObserverRegistry()


@functools.cache
def _report_missing_app() -> None:
    """Log, once per process, that observers exist without the "streams" app.

    ``manage.py check`` reports it (streams.E001) only when the consumers are
    imported by then; a server imports them at start-up, so it says it here.
    """
    from django.apps import apps

    if apps.ready and not apps.is_installed("streams"):
        logger.error(
            'Observers are declared but "streams" is not in INSTALLED_APPS: processes '
            "that never import the consumers (shell, cron jobs, workers) will write without "
            'sending any event. Add "streams" to INSTALLED_APPS (streams.E001).'
        )


# ------------------------------------------------------------------ recording
def groups_before_write(
    model: type[Model], pks: Iterable[Any], using: str
) -> dict[Any, dict[str, frozenset[str]]]:
    """For observers that track moves: pk -> observer id -> groups of the stored row.

    One query per 500 pks; pks with no stored row get no entry.
    """
    movers = [o for o in registry.observers_for(model) if o.tracks_moves]
    pks = [pk for pk in pks if pk is not None]
    if not movers or not pks:
        return {}
    result: dict[Any, dict[str, frozenset[str]]] = {}
    manager = model._base_manager.using(using)
    for start in range(0, len(pks), 500):
        for stored in manager.filter(pk__in=pks[start : start + 500]):
            result[stored.pk] = {o.observer_id: o.signal_groups(stored) for o in movers}
    return result


def record_change(
    model: type[Model],
    instance: Model,
    action: str,
    using: str,
    old_groups: dict[str, frozenset[str]] | None = None,
) -> None:
    """Queue one write of ``instance`` for its observers (sent after the commit)."""
    key: Hashable = (model, using, instance.pk)
    change = Change(action=action, instance=snapshot(instance), old_groups=old_groups)
    transactions.record(using, key, change, emit_changes)


@functools.cache
def _binary_attnames(model: type[Model]) -> tuple[str, ...] | None:
    """The attnames that may hold a ``memoryview``; ``None`` when the model customises
    copying or pickling (then :func:`snapshot` leaves the copy to ``copy.copy``)."""
    customised = (
        "__copy__" in dir(model)
        or model.__reduce_ex__ is not object.__reduce_ex__
        or model.__reduce__ is not Model.__reduce__
        or model.__getstate__ is not Model.__getstate__
        or getattr(model, "__setstate__", None) is not getattr(Model, "__setstate__", None)
    )
    if customised:
        return None
    return tuple(
        f.attname for f in model._meta.concrete_fields if isinstance(f, models.BinaryField)
    )


def snapshot(instance: Model) -> Model:
    """A shallow copy of ``instance`` as ``copy.copy`` makes it, without its machinery.

    ``copy.copy`` of a model goes through ``__reduce_ex__``, ``__getstate__``,
    a second ``copy.copy`` for ``_state`` and ``__setstate__``: about half of
    the observer cost of a write. This does the same work directly: the
    instance dict, its ``_state`` and the related-object cache are copied,
    ``memoryview`` values are frozen (as pickling would).
    """
    cls = type(instance)
    binary = _binary_attnames(cls)
    if binary is None:
        return copy.copy(instance)
    data = instance.__dict__.copy()
    state = data.get("_state")
    if state is not None:
        state_copy = object.__new__(type(state))
        state_dict = state.__dict__.copy()
        cached = state_dict.get("fields_cache")
        if cached:
            state_dict["fields_cache"] = cached.copy()
        elif cached is not None:
            del state_dict["fields_cache"]  # empty: the descriptor makes a fresh one
        state_copy.__dict__ = state_dict  # the copies themselves, no second dict
        data["_state"] = state_copy
    for attname in binary:
        value = data.get(attname)
        if isinstance(value, memoryview):
            data[attname] = memoryview(bytes(value))
    clone = cls.__new__(cls)
    clone.__dict__ = data
    return clone


def _pre_save(sender: type[Model], instance: Model, raw: bool = False, **kwargs: Any) -> None:
    if raw or instance.pk is None:
        return
    if not any(o.tracks_moves for o in registry.observers_for(sender)):
        return
    using = kwargs.get("using") or "default"
    old = groups_before_write(sender, [instance.pk], using).get(instance.pk)
    setattr(instance._state, OLD_GROUPS_ATTR, old)


def _post_save(
    sender: type[Model], instance: Model, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if raw:
        return  # fixtures (loaddata) are not user writes
    old_groups = instance._state.__dict__.pop(OLD_GROUPS_ATTR, None)
    record_change(
        sender,
        instance,
        CREATE if created else UPDATE,
        kwargs.get("using") or "default",
        old_groups,
    )


def _post_delete(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    record_change(sender, instance, DELETE, kwargs.get("using") or "default")


def _m2m_changed(
    sender: Any,
    instance: Model,
    action: str,
    reverse: bool,
    model: type[Model],
    pk_set: set[Any] | None,
    using: str,
    **kwargs: Any,
) -> None:
    if not reverse:
        # ``instance`` is the observed object; its relation changed.
        if action in ("post_add", "post_remove", "post_clear") and any(
            o.many_to_many for o in registry.observers_for(type(instance))
        ):
            record_change(type(instance), instance, UPDATE, using)
        return
    # ``instance`` is on the other side; ``model`` is the observed one.
    if not any(o.many_to_many for o in registry.observers_for(model)):
        return
    if action == "pre_clear":
        field = next(f for f in model._meta.many_to_many if f.remote_field.through is sender)
        pks = sender._base_manager.using(using).filter(
            **{field.m2m_reverse_field_name(): instance.pk}
        )
        setattr(
            instance._state,
            CLEARED_PKS_ATTR,
            set(pks.values_list(field.m2m_field_name(), flat=True)),
        )
        return
    if action == "post_clear":
        pk_set = instance._state.__dict__.pop(CLEARED_PKS_ATTR, None)
    elif action not in ("post_add", "post_remove"):
        return
    if pk_set:
        for related in model._base_manager.using(using).filter(pk__in=pk_set):
            record_change(model, related, UPDATE, using)


# ------------------------------------------------------------------- emitting
def emit_changes(changes: list[MergedChange]) -> None:
    """Turn committed changes into group messages, one event per object, and send them.

    When the channel layer can tell which groups have members (the in-memory
    layer: every member is in this process), messages for empty groups are
    not built at all, and with no group anywhere nothing is done. Otherwise
    (Redis: members may be in any process) every message is sent.
    """
    live = sending.group_probe()
    # Nobody subscribed to anything, and nobody else could be: only observers
    # keeping a history still send (a client may come back and resume).
    nobody = live is not None and not live.any()
    messages: list[sending.Outgoing] = []
    for change in changes:
        model = type(change.last.instance)
        observers = registry.observers_for(model)
        if not observers:
            continue
        envelope = _LazyEnvelope(change.last.instance)
        for observer in observers:
            policy = observer.history_policy
            if nobody and policy is None:
                continue
            try:
                built = observer.messages_for(change, envelope, live if policy is None else None)
                if policy is None:
                    messages.extend(built)
                else:
                    messages.extend((group, message, policy) for group, message in built)
            except Exception:
                logger.exception(
                    "%r: event for %s pk=%r dropped (a hook raised).",
                    observer,
                    events.model_label(model),
                    change.last.instance.pk,
                )
    sending.send_from_sync(messages)


class _LazyEnvelope:
    """The event envelope of one change, built the first time a message needs it
    (never, when none of the object's groups has a member)."""

    __slots__ = ("_envelope", "_instance")

    def __init__(self, instance: Model) -> None:
        self._instance = instance
        self._envelope: dict[str, Any] | None = None

    def __call__(self) -> dict[str, Any]:
        if self._envelope is None:
            self._envelope = events.make_envelope(self._instance)
        return self._envelope
