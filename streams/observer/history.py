"""Bounded per-group event history, so a client that reconnects can resume.

An observer with a history gives every message it sends a **position** in
its group: ``(epoch, offset)``. The offset counts the group's events (1, 2,
3...) and is assigned once, by the sending process, when the event is
appended to the history; the epoch names one life of that history and changes
whenever it is lost (Redis restarted or the group idle past ``max_age``, or,
in memory, the process restarted or the group evicted). A client that got
pushes up to a position and reconnects asks for what came after it: either
exactly those events, in order, or a reason why they are gone.

Two stores, chosen by the channel layer:

- ``channels_redis``' ``RedisChannelLayer``: a hash (``epoch``, ``n``) and a
  Redis Stream of entries ``n-0`` per group, on the Redis host the layer uses
  for that group, through the layer's own connection pool (under
  ``layer_ops``' bound, so a wave of resumes cannot exhaust it). Any process can
  append and any process can serve a resume. Both keys expire ``max_age``
  after the group's last write; the stream is capped at ``max_events``.
- Channels' in-memory layer: a dict in this process (the only process that
  layer serves), with at most ``OBSERVER_HISTORY_MAX_GROUPS`` groups (least
  recently written evicted first; an evicted group starts a new epoch).

Other layers have no history: messages carry no position and every resume
answers ``"disabled"``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from channels.layers import InMemoryChannelLayer

from streams import layer_ops
from streams.errors import ActionError
from streams.settings import api_settings

logger = logging.getLogger(__name__)

#: Why a resume did not recover (the ``reason`` of the reply's ``resume``).
EXPIRED = "expired"  # the events after the position were trimmed (size or age)
EPOCH = "epoch"  # the history was lost and restarted since that position
UNKNOWN = "unknown"  # no position given for one of the subscription's groups
DISABLED = "disabled"  # the observer (or the channel layer) keeps no history

#: Bounds on what a client may send as ``resume``.
MAX_RESUME_GROUPS = 64
MAX_TAG_LENGTH = 32
MAX_EPOCH_LENGTH = 64
#: Offsets are Redis stream ids (64-bit); larger ones are no position at all.
MAX_OFFSET = 2**63 - 1


@dataclass(frozen=True)
class HistoryPolicy:
    """How much history one observer keeps per group."""

    max_events: int
    max_age: float  # seconds

    def __post_init__(self) -> None:
        if not isinstance(self.max_events, int) or self.max_events < 1:
            raise ValueError(
                f"HistoryPolicy.max_events must be a positive int, got {self.max_events!r}."
            )
        if not isinstance(self.max_age, int | float) or self.max_age <= 0:
            raise ValueError(
                f"HistoryPolicy.max_age must be positive seconds, got {self.max_age!r}."
            )

    @classmethod
    def resolve(cls, value: Any) -> HistoryPolicy | None:
        """``None``/``False``: no history; ``True``: the settings' bounds; a policy: itself;
        a dict: ``max_events`` / ``max_age`` over the settings' bounds."""
        if value is None or value is False:
            return None
        if isinstance(value, HistoryPolicy):
            return value
        defaults = {
            "max_events": api_settings.OBSERVER_HISTORY_MAX_EVENTS,
            "max_age": api_settings.OBSERVER_HISTORY_MAX_AGE,
        }
        if value is True:
            return cls(**defaults)
        if isinstance(value, Mapping) and set(value) <= set(defaults):
            return cls(**{**defaults, **value})
        raise TypeError(
            f"An observer's history must be True, False, a dict with max_events/max_age or a "
            f"HistoryPolicy; got {value!r}."
        )


@dataclass(frozen=True)
class Position:
    epoch: str
    offset: int


@dataclass
class Replay:
    """What a resume from one position gives: the missed messages, or why not."""

    head: Position
    messages: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None

    @property
    def recovered(self) -> bool:
        return self.reason is None


def group_tag(group: str) -> str:
    """How a group is named on the wire: a short digest, never the group itself."""
    return hashlib.blake2s(group.encode(), digest_size=8).hexdigest()


def wire_position(group: str | None, position: Any) -> dict[str, Any] | None:
    """A message's ``position`` as pushes carry it: ``{"group", "epoch", "offset"}``."""
    if group is None or not isinstance(position, list | tuple) or len(position) != 2:
        return None
    return {"group": group_tag(group), "epoch": position[0], "offset": position[1]}


def parse_resume(value: Any) -> dict[str, Position] | None:
    """A client's ``resume`` (``{tag: [epoch, offset]}``) checked, or a 400."""
    if value is None:
        return None

    def bad(message: str) -> ActionError:
        return ActionError({"resume": [message]}, status=400)

    if not isinstance(value, dict):
        raise bad('Must be an object: {"<group>": ["<epoch>", <offset>]}.')
    if len(value) > MAX_RESUME_GROUPS:
        raise bad(f"At most {MAX_RESUME_GROUPS} groups.")
    tokens: dict[str, Position] = {}
    for tag, token in value.items():
        if len(tag) > MAX_TAG_LENGTH:
            raise bad("Unknown group.")
        if (
            not isinstance(token, list)
            or len(token) != 2
            or not isinstance(token[0], str)
            or len(token[0]) > MAX_EPOCH_LENGTH
            or type(token[1]) is not int
            or not 0 <= token[1] < MAX_OFFSET
        ):
            raise bad('Each position must be ["<epoch>", <offset >= 0>].')
        tokens[tag] = Position(token[0], token[1])
    return tokens


def _new_epoch() -> str:
    return secrets.token_hex(6)


# ---------------------------------------------------------------- in memory
class _GroupLog:
    __slots__ = ("entries", "epoch", "n")

    def __init__(self, max_events: int) -> None:
        self.epoch = _new_epoch()
        self.n = 0
        self.entries: deque[tuple[int, float, dict[str, Any]]] = deque(maxlen=max_events)


class MemoryHistory:
    """The history of a process-local channel layer (see the module docstring)."""

    def __init__(self) -> None:
        self._groups: OrderedDict[str, _GroupLog] = OrderedDict()

    def clear(self) -> None:
        """Forget every group (their next events start new epochs)."""
        self._groups.clear()

    def _log(self, group: str, policy: HistoryPolicy, create: bool) -> _GroupLog | None:
        log = self._groups.get(group)
        now = time.monotonic()
        if log is not None and log.entries and now - log.entries[-1][1] > policy.max_age:
            # Idle past max_age: forgotten, like a Redis key expiring.
            del self._groups[group]
            log = None
        if log is None and create:
            log = self._groups[group] = _GroupLog(policy.max_events)
            limit = api_settings.OBSERVER_HISTORY_MAX_GROUPS
            while len(self._groups) > limit:
                self._groups.popitem(last=False)
        return log

    async def append(
        self, items: Sequence[tuple[str, dict[str, Any], HistoryPolicy]]
    ) -> list[Position]:
        positions = []
        for group, message, policy in items:
            log = self._log(group, policy, create=True)
            assert log is not None
            log.n += 1
            log.entries.append((log.n, time.monotonic(), message))
            self._groups.move_to_end(group)
            positions.append(Position(log.epoch, log.n))
        return positions

    async def heads(self, groups: Sequence[str], policy: HistoryPolicy) -> list[Position]:
        heads = []
        for group in groups:
            log = self._log(group, policy, create=True)
            assert log is not None
            heads.append(Position(log.epoch, log.n))
        return heads

    async def read(self, group: str, since: Position, policy: HistoryPolicy) -> Replay:
        log = self._log(group, policy, create=True)
        assert log is not None
        head = Position(log.epoch, log.n)
        entries = [(n, t, m) for n, t, m in log.entries if n > since.offset]
        return _replay(head, since, [(n, t, m) for n, t, m in entries], policy, time.monotonic())


# -------------------------------------------------------------------- Redis
# Append one event per (meta, log) key pair; returns epoch, offset pairs.
_APPEND = """
local result = {}
local count = #KEYS / 2
for i = 1, count do
  local meta, log = KEYS[2 * i - 1], KEYS[2 * i]
  local base = (i - 1) * 5
  if redis.call('HSETNX', meta, 'epoch', ARGV[base + 1]) == 1 then
    redis.call('DEL', log)
  end
  local n = redis.call('HINCRBY', meta, 'n', 1)
  redis.call('XADD', log, 'MAXLEN', ARGV[base + 2], n .. '-0', 't', ARGV[base + 4], 'm', ARGV[base + 5])
  redis.call('PEXPIRE', meta, ARGV[base + 3])
  redis.call('PEXPIRE', log, ARGV[base + 3])
  result[2 * i - 1] = redis.call('HGET', meta, 'epoch')
  result[2 * i] = n
end
return result
"""

# The current position of each group, starting an epoch where there is none.
_HEADS = """
local result = {}
for i = 1, #KEYS / 2 do
  local meta, log = KEYS[2 * i - 1], KEYS[2 * i]
  if redis.call('HSETNX', meta, 'epoch', ARGV[2 * i - 1]) == 1 then
    redis.call('DEL', log)
    redis.call('HSET', meta, 'n', 0)
  end
  redis.call('PEXPIRE', meta, ARGV[2 * i])
  local values = redis.call('HMGET', meta, 'epoch', 'n')
  result[2 * i - 1] = values[1]
  result[2 * i] = tonumber(values[2]) or 0
end
return result
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisHistory:
    """The history kept in Redis next to channels_redis' groups (module docstring)."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer

    def _keys(self, group: str) -> tuple[str, str]:
        base = f"{self.layer.prefix}:history:{group}"
        return f"{base}:meta", f"{base}:log"

    def _connection(self, group: str) -> Any:
        return self.layer.connection(self.layer.consistent_hash(group))

    def _by_host(self, groups: Sequence[str]) -> dict[int, list[int]]:
        hosts: dict[int, list[int]] = {}
        for index, group in enumerate(groups):
            hosts.setdefault(self.layer.consistent_hash(group), []).append(index)
        return hosts

    async def append(
        self, items: Sequence[tuple[str, dict[str, Any], HistoryPolicy]]
    ) -> list[Position]:
        positions: list[Position | None] = [None] * len(items)
        now_ms = str(int(time.time() * 1000))
        for host, indexes in self._by_host([group for group, _, _ in items]).items():
            keys: list[str] = []
            args: list[Any] = []
            for index in indexes:
                group, message, policy = items[index]
                keys.extend(self._keys(group))
                args.extend(
                    [
                        _new_epoch(),
                        policy.max_events,
                        int(policy.max_age * 1000),
                        now_ms,
                        self.layer.serialize(message),
                    ]
                )
            async with layer_ops.slot():
                result = await self.layer.connection(host).eval(_APPEND, len(keys), *keys, *args)
            for slot, index in enumerate(indexes):
                positions[index] = Position(_text(result[2 * slot]), int(result[2 * slot + 1]))
        return [position for position in positions if position is not None]

    async def heads(self, groups: Sequence[str], policy: HistoryPolicy) -> list[Position]:
        heads: list[Position | None] = [None] * len(groups)
        for host, indexes in self._by_host(groups).items():
            keys: list[str] = []
            args: list[Any] = []
            for index in indexes:
                keys.extend(self._keys(groups[index]))
                args.extend([_new_epoch(), int(policy.max_age * 1000)])
            async with layer_ops.slot():
                result = await self.layer.connection(host).eval(_HEADS, len(keys), *keys, *args)
            for slot, index in enumerate(indexes):
                heads[index] = Position(_text(result[2 * slot]), int(result[2 * slot + 1]))
        return [head for head in heads if head is not None]

    async def read(self, group: str, since: Position, policy: HistoryPolicy) -> Replay:
        meta, log = self._keys(group)
        async with layer_ops.slot(), self._connection(group).pipeline(transaction=True) as pipe:
            pipe.hmget(meta, "epoch", "n")
            pipe.xrange(log, f"{since.offset + 1}-0", "+")
            (epoch, n), raw = await pipe.execute()
        if epoch is None:
            # Nothing here any more (expired or Redis restarted): a new epoch.
            return Replay(Position("", 0), reason=EPOCH)
        head = Position(_text(epoch), int(n or 0))
        entries = []
        for entry_id, fields in raw:
            offset = int(_text(entry_id).split("-", 1)[0])
            stamp = int(fields[b"t"]) / 1000
            entries.append((offset, stamp, self.layer.deserialize(fields[b"m"])))
        return _replay(head, since, entries, policy, time.time())


def _replay(
    head: Position,
    since: Position,
    entries: list[tuple[int, float, dict[str, Any]]],
    policy: HistoryPolicy,
    now: float,
) -> Replay:
    """Check that ``entries`` are exactly the events after ``since``, young enough."""
    if head.epoch != since.epoch or since.offset > head.offset:
        return Replay(head, reason=EPOCH)
    expected = list(range(since.offset + 1, head.offset + 1))
    if [offset for offset, _, _ in entries] != expected:
        return Replay(head, reason=EXPIRED)
    if entries and now - entries[0][1] > policy.max_age:
        return Replay(head, reason=EXPIRED)
    return Replay(
        head,
        messages=[dict(message, position=[head.epoch, offset]) for offset, _, message in entries],
    )


# ------------------------------------------------------------------- lookup
_MAX_STORES = 8
_stores: dict[int, tuple[Any, MemoryHistory | RedisHistory | None]] = {}


def store_for(layer: Any) -> MemoryHistory | RedisHistory | None:
    """The history store of ``layer`` (one per layer object), ``None`` when it has none."""
    if layer is None:
        return None
    known = _stores.get(id(layer))
    if known is not None and known[0] is layer:
        return known[1]
    store: MemoryHistory | RedisHistory | None
    if isinstance(layer, InMemoryChannelLayer):
        store = MemoryHistory()
    elif all(
        hasattr(layer, name) for name in ("connection", "consistent_hash", "prefix", "serialize")
    ):
        store = RedisHistory(layer)
    else:
        logger.warning(
            "%s keeps no observer history: observers with history=True send no positions and "
            "resumes answer %r. Use channels_redis' RedisChannelLayer.",
            type(layer).__qualname__,
            DISABLED,
        )
        store = None
    # Holding the layer keeps its id from being reused by another object; only
    # the last few layers are kept (tests make many, a process uses one).
    _stores[id(layer)] = (layer, store)
    while len(_stores) > _MAX_STORES:
        del _stores[next(iter(_stores))]
    return store
