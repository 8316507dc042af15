"""Collect model changes per transaction; hand them over, merged, after the commit.

Rules (``docs/OBSERVERS.md``):

- Outside a transaction (autocommit) a change is emitted at once: the write
  is already committed when ``post_save`` runs.
- Inside ``transaction.atomic()`` changes wait for the outermost commit and are
  then merged per object: one change per object with its final state, its
  state before the transaction, and whether it was created or deleted in it.
- A rollback drops everything; a rolled-back savepoint drops the changes made
  inside it and keeps the others.

How savepoints are followed: Django's ``on_commit`` already discards
callbacks registered inside a savepoint that is rolled back. Each savepoint
context that saw a change registers one *marker* callback; a marker that runs
at commit time proves its changes survived. The merge must run after every
surviving marker, so a *flush* callback that belongs to no savepoint is
appended after the newest marker (only the newest flush acts). Appending a
callback outside the current savepoints needs ``connection.run_on_commit``,
whose entries are ``(savepoint_ids, callback, robust)`` since Django 4.2.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

logger = logging.getLogger(__name__)

CREATE, UPDATE, DELETE = "create", "update", "delete"


@dataclass(slots=True)
class Change:
    """One write of one object, as seen by the signal that reported it.

    ``instance`` is a copy taken at that moment, so later in-memory edits (or
    a rolled-back savepoint) don't alter what is sent. ``old_groups`` maps
    observer ids to the groups the object was in before the write, when an
    observer needed them (see ``ModelObserver.tracks_moves``).
    """

    action: str
    instance: Model
    old_groups: dict[str, frozenset[str]] | None = None


@dataclass(slots=True)
class MergedChange:
    """All the committed changes of one object in one transaction."""

    first: Change
    last: Change

    @property
    def created(self) -> bool:
        """Did the object come into existence in this transaction?"""
        return self.first.action == CREATE

    @property
    def vanished(self) -> bool:
        """Created and deleted in the same transaction: nobody ever saw it."""
        return self.first.action == CREATE and self.last.action == DELETE


Emit = Callable[[list[MergedChange]], None]


class _Marker:
    """An ``on_commit`` callback that records that it ran."""

    __slots__ = ("ran",)

    def __init__(self) -> None:
        self.ran = False

    def __call__(self) -> None:
        self.ran = True


@dataclass(eq=False)
class _Pending:
    emit: Emit
    # id() of the connection's run_on_commit list when last seen: Django
    # replaces the list on rollbacks. Not the list itself: it holds the flush
    # callback, which holds this record, and that cycle would outlive a rollback.
    hooks_id: int
    records: list[tuple[_Marker, Hashable, Change]] = field(default_factory=list)
    markers: dict[tuple[Any, ...], _Marker] = field(default_factory=dict)
    generation: int = 0
    # Weak: the flush closure holds this record, and a cycle would keep both
    # alive after a rollback until the garbage collector ran.
    flush_ref: weakref.ref[Callable[[], None]] | None = None


#: The open transaction's pending changes, per connection (connections are per
#: thread). Held weakly: the only strong reference is the flush callback in the
#: connection's ``run_on_commit``, so when a rollback empties that list the
#: changes (copies of every written instance) are freed at once, not at the
#: connection's next write.
_pending: weakref.WeakKeyDictionary[BaseDatabaseWrapper, weakref.ref[_Pending]] = (
    weakref.WeakKeyDictionary()
)


def _live_pending(connection: BaseDatabaseWrapper) -> _Pending | None:
    ref = _pending.get(connection)
    return ref() if ref is not None else None


def record(using: str, key: Hashable, change: Change, emit: Emit) -> None:
    """Note ``change`` of the object ``key``; ``emit`` gets the merged changes after commit."""
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        _emit_safely(emit, [MergedChange(change, change)])
        return
    pending = _pending_for(connection, emit)
    context = tuple(connection.savepoint_ids)
    marker = pending.markers.get(context)
    if marker is None:
        marker = pending.markers[context] = _Marker()
        connection.on_commit(marker)
        _append_flush(connection, pending)
    pending.records.append((marker, key, change))


def _pending_for(connection: BaseDatabaseWrapper, emit: Emit) -> _Pending:
    pending = _live_pending(connection)
    if pending is not None and pending.hooks_id != id(connection.run_on_commit):
        # Django replaces the list on rollback (all our callbacks gone: a new
        # transaction) and on savepoint rollback (our flush survives).
        flush = pending.flush_ref() if pending.flush_ref is not None else None
        if flush is not None and any(entry[1] is flush for entry in connection.run_on_commit):
            pending.hooks_id = id(connection.run_on_commit)
        else:
            pending = None
    if pending is None:
        pending = _Pending(emit=emit, hooks_id=id(connection.run_on_commit))
        _pending[connection] = weakref.ref(pending)
    return pending


def _append_flush(connection: BaseDatabaseWrapper, pending: _Pending) -> None:
    pending.generation += 1
    generation = pending.generation

    def flush() -> None:
        if generation != pending.generation:
            return  # a newer flush, registered after newer markers, will do it
        if _live_pending(connection) is pending:
            del _pending[connection]
        _flush(pending)

    pending.flush_ref = weakref.ref(flush)
    # Outside every savepoint (empty id set): no savepoint rollback removes it.
    connection.run_on_commit.append((set(), flush, False))  # type: ignore[arg-type]


def _flush(pending: _Pending) -> None:
    merged: dict[Hashable, MergedChange] = {}
    for marker, key, change in pending.records:
        if not marker.ran:
            continue  # made inside a savepoint that was rolled back
        entry = merged.get(key)
        if entry is None:
            merged[key] = MergedChange(change, change)
        else:
            entry.last = change
    changes = [entry for entry in merged.values() if not entry.vanished]
    if changes:
        _emit_safely(pending.emit, changes)


def _emit_safely(emit: Emit, changes: list[MergedChange]) -> None:
    # Runs inside the writer's commit: an observer bug must never surface there.
    try:
        emit(changes)
    except Exception:
        logger.exception("Observer events of %d object(s) dropped.", len(changes))
