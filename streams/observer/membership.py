"""Is an event's object still in each subscriber's scoped queryset?

A subscription follows a queryset: ``get_queryset()`` scoped to the
subscriber (its user, its sharing rules...), plus the list filters of a list
subscription. When an object changes, each subscription must learn whether
the object is still in that set, or it would keep pushing an object its
subscriber may no longer see.

Asking the database once per subscriber would make the cost of a write grow
with subscribers (a thousand list subscriptions were a thousand ``EXISTS``
queries in a row). Instead:

- A subscription's queryset is compiled once, when subscribing, into a
  :class:`Scope`: its SQL and parameters, which are also its cache key. Two
  subscribers whose querysets compile to the same SQL and parameters share
  every answer; a user id alone would not be a sound key (the queryset may
  depend on more of the scope), the SQL is exactly what would run.
- Per event and process, every distinct scope is asked about once; the
  questions that arrive in the same turn of the event loop (all the
  subscriptions of a socket, and those of the other sockets the event reached
  meanwhile) are answered together, in one thread hop, by one
  ``UNION ALL`` query per :data:`BATCH_SIZE` scopes.
- The hop runs in a thread of its own (one per process), never on the event
  loop nor in the threads other connections' requests need. Questions that
  arrive while a batch runs form the next batch, so a busy process makes
  fewer, larger batches. The thread keeps its database connection between
  batches and closes it after :data:`IDLE_SECONDS` without one: a connection
  per batch (``CONN_MAX_AGE = 0``) cost more than the query, and made a
  thousand-subscriber fan-out twice as slow.
- A scope with no condition at all (the whole table, e.g. the default
  ``get_queryset()``) contains every object that was just created or
  updated: it is answered without a query.

The database evaluates the compiled SQL at each event, so conditions written
as queries (an owner column, a sharing table, a subquery) apply at once.
Values that ``get_queryset()`` computed in Python when subscribing are frozen
in the SQL until the client subscribes again.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import logging
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import F, Model, QuerySet
from django.db.models.sql import Query

from streams.observer.events import model_from_event, pk_from_event

logger = logging.getLogger(__name__)

#: Scopes asked about in one SQL statement (SQLite allows 500 compound SELECTs).
BATCH_SIZE = 100
#: Seconds without a batch after which the membership thread closes its connection.
IDLE_SECONDS = 5.0
#: Events whose answers are kept per process (answers are per event).
EVENTS_KEPT = 64

#: The alias the compiled SQL gives the object's pk, read by the batch query.
PK_ALIAS = "streams_member_pk"

ALL = "all"  # no condition: every existing object is in it
NONE = "none"  # the queryset can match nothing (``.none()``, ``pk__in=[]``)
SQL = "sql"  # compiled: answered by the batch query
ORM = "orm"  # could not be compiled alone: ``queryset.filter(pk=pk).exists()``


@dataclass(frozen=True, eq=False, slots=True)
class Scope:
    """A subscription's queryset, compiled once (see the module docstring).

    ``key`` is equal for scopes that always give the same answers: the
    database alias, the SQL and its parameters.
    """

    kind: str
    key: Hashable
    using: str
    sql: str = ""
    params: tuple[Any, ...] = ()
    queryset: QuerySet[Any] | None = field(default=None, repr=False)  # repr would query

    @property
    def everything(self) -> bool:
        return self.kind == ALL


_PLAIN_PARAMS = frozenset(
    {
        str,
        int,
        float,
        bool,
        bytes,
        type(None),
        decimal.Decimal,
        uuid.UUID,
        datetime.date,
        datetime.datetime,
        datetime.time,
        datetime.timedelta,
    }
)


def _params_key(params: Iterable[Any]) -> tuple[Any, ...] | None:
    """Parameters as a hashable key (typed, so ``1`` and ``True`` differ); ``None``
    when one cannot be compared by value, and the scope then shares nothing."""
    key: list[Any] = []
    for param in params:
        kind = type(param)
        if kind in _PLAIN_PARAMS:
            key.append((kind.__name__, param))
        elif kind is list or kind is tuple:
            inner = _params_key(param)
            if inner is None:
                return None
            key.append(inner)
        else:
            return None
    return tuple(key)


def _unrestricted(query: Query) -> bool:
    """Does ``query`` select every row of its table (no condition of any kind)?"""
    return (
        not query.where.children
        and not query.is_sliced
        and not query.combinator
        and not query.extra_tables
        and query.group_by is None
    )


def scope_of(queryset: QuerySet[Any]) -> Scope:
    """Compile ``queryset`` into a :class:`Scope` (sync: user hooks built it, and
    compiling may touch the connection). Run it where sync code runs."""
    using = queryset.db
    model = queryset.model
    if _unrestricted(queryset.query):
        return Scope(ALL, (ALL, using, model._meta.label_lower), using, queryset=queryset)
    try:
        # Ordering does not change membership, except under a slice ("the top 10").
        inner = queryset if queryset.query.is_sliced else queryset.order_by()
        inner = inner.values(**{PK_ALIAS: F("pk")})
        sql, params = inner.query.get_compiler(using).as_sql()
    except EmptyResultSet:
        return Scope(NONE, (NONE,), using, queryset=queryset)
    except Exception:
        # e.g. a combined (union) queryset, which cannot be re-selected.
        return Scope(ORM, object(), using, queryset=queryset)
    params_key = _params_key(params)
    key: Hashable = object() if params_key is None else (SQL, using, sql, params_key)
    return Scope(SQL, key, using, sql=sql, params=tuple(params), queryset=queryset)


# ------------------------------------------------------------------ the query
def _exists(scope: Scope, pk: Any) -> bool | None:
    queryset = scope.queryset
    assert queryset is not None
    try:
        if queryset.query.is_sliced or queryset.query.combinator:
            # Neither can be filtered further: read the (bounded or combined) pks.
            return any(value == pk for value in queryset.values_list("pk", flat=True))
        return bool(queryset.filter(pk=pk).exists())
    except Exception:
        logger.exception(
            "Observer delivery: could not tell whether %s %r is in a subscriber's queryset; "
            "that subscription gets no push for this event.",
            queryset.model._meta.label,
            pk,
        )
        return None


def answer(model: type[Model], pk: Any, scopes: Sequence[Scope]) -> dict[Hashable, bool | None]:
    """For each scope, is object ``pk`` in it now? (sync, queries the database)

    ``None`` for a scope whose query failed (logged): its subscription is
    skipped for this event, neither pushed to nor told the object left.
    """
    answers: dict[Hashable, bool | None] = {}
    by_db: dict[str, list[Scope]] = {}
    for scope in scopes:
        if scope.kind == ALL:
            answers[scope.key] = True
        elif scope.kind == NONE:
            answers[scope.key] = False
        elif scope.kind == ORM:
            answers[scope.key] = _exists(scope, pk)
        else:
            by_db.setdefault(scope.using, []).append(scope)
    for using, group in by_db.items():
        connection = connections[using]
        db_pk = model._meta.pk.get_db_prep_value(pk, connection)
        alias = connection.ops.quote_name(PK_ALIAS)
        for start in range(0, len(group), BATCH_SIZE):
            chunk = group[start : start + BATCH_SIZE]
            parts: list[str] = []
            params: list[Any] = []
            for index, scope in enumerate(chunk):
                parts.append(
                    f"SELECT {index} FROM ({scope.sql}) streams_m{index} "
                    f"WHERE streams_m{index}.{alias} = %s"
                )
                params.extend(scope.params)
                params.append(db_pk)
            try:
                with connection.cursor() as cursor:
                    cursor.execute(" UNION ALL ".join(parts), params)
                    hits = {row[0] for row in cursor.fetchall()}
            except Exception:
                # One scope the wrapping does not suit, or a value the driver
                # refuses (psycopg raises ValueError for NUL bytes): ask each
                # alone, so that one subscriber cannot fail the others' batch.
                logger.debug("Membership batch failed; asking scope by scope.", exc_info=True)
                for scope in chunk:
                    answers[scope.key] = _exists(scope, pk)
                continue
            for index, scope in enumerate(chunk):
                answers[scope.key] = index in hits
    return answers


# ------------------------------------------------------------- the thread
_executor_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_last_batch = 0.0


def _membership_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(1, thread_name_prefix="streams-membership")
    return _executor


def _answer_in_thread(model: type[Model], pk: Any, scopes: Sequence[Scope]) -> Any:
    """:func:`answer` in the membership thread, on the connection it keeps.

    Like Django's ``close_old_connections`` except for the age: a connection
    that saw an error is checked and closed if unusable; otherwise it is kept.
    """
    global _last_batch
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and conn.errors_occurred:
            if conn.is_usable():
                conn.errors_occurred = False
            else:
                conn.close()
    try:
        return answer(model, pk, scopes)
    finally:
        _last_batch = time.monotonic()


def _close_if_idle() -> None:
    if time.monotonic() - _last_batch >= IDLE_SECONDS:
        _close_connections()


def _close_connections() -> None:
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None:
            conn.close()


def call_in_membership_thread(func: Callable[[], Any], timeout: float = 10) -> Any:
    """Run ``func()`` in the membership thread and wait (sync code only; e.g. a
    test suite closing every thread's connections)."""
    return _membership_executor().submit(func).result(timeout)


# ------------------------------------------------------------- the batching
class _Batch:
    """Scopes asked about for one event in one loop turn, answered by one hop."""

    __slots__ = ("answers", "error", "scopes", "waiters")

    def __init__(self) -> None:
        self.scopes: dict[Hashable, Scope] = {}
        self.waiters: list[asyncio.Future[None]] = []
        self.answers: dict[Hashable, bool | None] | None = None
        self.error: BaseException | None = None

    def wait(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        waiter: asyncio.Future[None] = loop.create_future()
        if self.answers is not None or self.error is not None:
            waiter.set_result(None)
        else:
            self.waiters.append(waiter)
        return waiter

    def settle(
        self, answers: dict[Hashable, bool | None] | None, error: BaseException | None
    ) -> None:
        self.answers, self.error = answers, error
        for waiter in self.waiters:
            if not waiter.done():  # a cancelled caller's waiter is done already
                waiter.set_result(None)
        self.waiters.clear()


class _Membership:
    """The answers and pending batches of one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        #: event id -> scope key -> answer, or the batch that will give it.
        self.events: OrderedDict[str, dict[Hashable, bool | _Batch | None]] = OrderedDict()
        self.pending: dict[str, _Batch] = {}
        #: One batch at a time per loop: what arrives meanwhile joins the next.
        self.hop = asyncio.Lock()
        self.tasks: set[asyncio.Task[None]] = set()
        self.idle_close: asyncio.TimerHandle | None = None

    def schedule_idle_close(self) -> None:
        if self.idle_close is not None:
            self.idle_close.cancel()
        self.idle_close = self.loop.call_later(IDLE_SECONDS, self.close_idle)

    def close_idle(self) -> None:
        self.idle_close = None
        self.loop.run_in_executor(_membership_executor(), _close_if_idle)

    def answers_for(self, event_id: str) -> dict[Hashable, bool | _Batch | None]:
        answers = self.events.get(event_id)
        if answers is None:
            answers = self.events[event_id] = {}
            while len(self.events) > EVENTS_KEPT:
                self.events.popitem(last=False)
        else:
            self.events.move_to_end(event_id)
        return answers

    def batch_for(self, event: dict[str, Any]) -> _Batch:
        """The batch this event's new questions join: open until its hop starts."""
        event_id = event["id"]
        batch = self.pending.get(event_id)
        if batch is None:
            batch = self.pending[event_id] = _Batch()
            task = self.loop.create_task(self.run(event, batch))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return batch

    def close_batch(self, event_id: str, batch: _Batch) -> None:
        if self.pending.get(event_id) is batch:
            del self.pending[event_id]

    async def run(self, event: dict[str, Any], batch: _Batch) -> None:
        event_id = event["id"]
        answers = self.events.get(event_id)
        try:
            async with self.hop:
                # Questions that came while the previous hop ran are in it too.
                self.close_batch(event_id, batch)
                result = await self.loop.run_in_executor(
                    _membership_executor(),
                    _answer_in_thread,
                    model_from_event(event),
                    pk_from_event(event),
                    list(batch.scopes.values()),
                )
                self.schedule_idle_close()
        except BaseException as exc:
            self.close_batch(event_id, batch)
            # Forget the batch so that the next caller asks again.
            if answers is not None:
                for key in batch.scopes:
                    if answers.get(key) is batch:
                        del answers[key]
            batch.settle(None, exc)
            if not isinstance(exc, Exception):
                raise
            return
        if answers is not None:
            for key, value in result.items():
                if answers.get(key) is batch:
                    answers[key] = value
        batch.settle(result, None)


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Membership] = (
    weakref.WeakKeyDictionary()
)


def _membership() -> _Membership:
    loop = asyncio.get_running_loop()
    state = _by_loop.get(loop)
    if state is None:
        state = _by_loop[loop] = _Membership(loop)
    return state


async def contains(event: dict[str, Any], scopes: Sequence[Scope]) -> list[bool | None]:
    """For each scope: is the event's object in it now? (``None``: unknown, logged)

    Scopes already answered for this event cost a dict lookup; the others join
    the batch of this loop turn. Meant for ``create`` and ``update`` events: a
    deleted object is in no queryset.
    """
    state = _membership()
    answers = state.answers_for(event["id"])
    batches: list[_Batch] = []
    batch: _Batch | None = None
    for scope in scopes:
        if scope.kind == ALL:
            continue
        found = answers.get(scope.key, _MISSING)
        if found is _MISSING:
            if batch is None:
                batch = state.batch_for(event)
            batch.scopes[scope.key] = scope
            answers[scope.key] = found = batch
        if type(found) is _Batch and found not in batches:
            batches.append(found)
    for waiting in batches:
        await waiting.wait(state.loop)
        if waiting.error is not None:
            raise waiting.error
    result: list[bool | None] = []
    for scope in scopes:
        if scope.kind == ALL:
            result.append(True)
            continue
        found = answers.get(scope.key, _MISSING)
        if type(found) is not bool and found is not None:
            # Evicted meanwhile, or answered by a batch: read it from there.
            found = _from_batches(batches, scope.key)
        result.append(found)
    return result


def _from_batches(batches: list[_Batch], key: Hashable) -> bool | None:
    for batch in batches:
        if batch.answers is not None and key in batch.answers:
            return batch.answers[key]
    return None


_MISSING: Any = object()


def clear() -> None:
    """Forget every answer (tests)."""
    for state in list(_by_loop.values()):
        state.events.clear()
