"""Observer history: positions on pushes, resuming subscriptions, in-order delivery.

The store units run against the in-memory store here and against Redis in
``test_redis_*``; the resume tests go through the gateway and the generic
mixins, as a client would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from django.db.backends.utils import CursorWrapper
from django.test.utils import override_settings
from rest_framework import serializers

from gateway import Gateway
from streams.decorators import action
from streams.errors import ActionError
from streams.filters import FieldFilterBackend
from streams.generics import GenericAsyncAPIConsumer
from streams.observer import history, model_observer
from streams.observer.generics import ObserverModelInstanceMixin, ObserverModelListMixin
from streams.observer.history import HistoryPolicy, MemoryHistory, Position, RedisHistory
from streams.permissions import BasePermission
from tests.services import require_redis
from tests.stacks import in_memory_layer_only
from tests.streams.observer.support import ItemConsumer, call, db, open_client, settle
from tests.testapp.models_observer import ObsItem, ObsJournalEntry

pytestmark = pytest.mark.django_db(transaction=True)


class EntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = ObsJournalEntry
        fields = ["id", "title", "color"]


class EntryConsumer(ObserverModelInstanceMixin, ObserverModelListMixin, GenericAsyncAPIConsumer):
    queryset = ObsJournalEntry.objects.all()
    serializer_class = EntrySerializer
    filter_backends = [FieldFilterBackend]
    filterset_fields = ["color"]
    observer_history = True


class ShortEntryConsumer(ObserverModelInstanceMixin, GenericAsyncAPIConsumer):
    """A history of two events per group."""

    queryset = ObsJournalEntry.objects.all()
    serializer_class = EntrySerializer
    observer_history = {"max_events": 2}


class CustomEntryConsumer(GenericAsyncAPIConsumer):
    """A DCRF-style observer with a history: its handler gets the position."""

    queryset = ObsJournalEntry.objects.all()

    @model_observer(ObsJournalEntry, history=True)
    async def entry_change(
        self, message: Any, action: Any = None, subscribing_request_ids: Any = (), **kwargs: Any
    ) -> None:
        for request_id in subscribing_request_ids:
            await self.send_json({"request_id": request_id, "position": kwargs.get("position")})

    @action()
    async def watch(self, request_id: Any = None, **kwargs: Any) -> Any:
        await self.entry_change.subscribe(request_id=request_id)
        return None, 201


class NoSecrets(BasePermission):
    def has_object_permission(
        self, scope: Any, consumer: Any, action: str, obj: Any, **kwargs: Any
    ) -> bool:
        return obj.title != "secret"


class GuardedEntryConsumer(ObserverModelInstanceMixin, GenericAsyncAPIConsumer):
    queryset = ObsJournalEntry.objects.all()
    serializer_class = EntrySerializer
    permission_classes = [NoSecrets]
    observer_history = True


class MineOnlyEntryConsumer(ObserverModelInstanceMixin, GenericAsyncAPIConsumer):
    """Each user sees their own entries only (``get_queryset`` scoping)."""

    queryset = ObsJournalEntry.objects.all()
    serializer_class = EntrySerializer
    observer_history = True

    def get_queryset(self, **kwargs: Any) -> Any:
        return ObsJournalEntry.objects.filter(owner=self.scope["user"])


APP = Gateway.as_asgi(
    streams={
        "mine": MineOnlyEntryConsumer,
        "entries": EntryConsumer,
        "short": ShortEntryConsumer,
        "guarded": GuardedEntryConsumer,
        "items": ItemConsumer,
    }
)


@pytest.fixture(autouse=True)
async def fresh_history(layer: Any) -> AsyncIterator[None]:
    """Each test starts with an empty history (pks repeat between tests).

    On the production stack the history is in Redis under the layer's prefix,
    which the ``layer`` fixture flushes before and after."""
    store = history.store_for(layer)
    assert isinstance(store, MemoryHistory | RedisHistory)
    if isinstance(store, MemoryHistory):
        store.clear()
    yield
    if isinstance(store, MemoryHistory):
        store.clear()


@pytest.fixture
async def clients() -> AsyncIterator[Any]:
    opened: list[Any] = []

    async def open_(**scope: Any) -> Any:
        client = await open_client(APP, **scope)
        opened.append(client)
        return client

    yield open_
    for client in opened:
        if client._task is not None and not client._task.done():
            await client.disconnect()


async def receive_push(client: Any, stream: str, request_id: Any) -> dict[str, Any]:
    return dict(await client.receive_from(stream, request_id=request_id, timeout=2))


def token(*positions: dict[str, Any]) -> dict[str, list[Any]]:
    """A client's ``resume`` from the positions it saw last (per group)."""
    return {p["group"]: [p["epoch"], p["offset"]] for p in positions}


# ------------------------------------------------------------------ policy
def test_policy_from_true_reads_the_settings_at_use():
    assert HistoryPolicy.resolve(True) == HistoryPolicy(max_events=100, max_age=300)
    with override_settings(
        CHANNELS_GATEWAY={"OBSERVER_HISTORY_MAX_EVENTS": 7, "OBSERVER_HISTORY_MAX_AGE": 9}
    ):
        assert HistoryPolicy.resolve(True) == HistoryPolicy(max_events=7, max_age=9)
        assert HistoryPolicy.resolve({"max_age": 1}) == HistoryPolicy(max_events=7, max_age=1)
    assert HistoryPolicy.resolve(None) is None
    assert HistoryPolicy.resolve(False) is None


@pytest.mark.parametrize(
    "value, error",
    [
        ("yes", TypeError),
        ({"max_events": 3, "size": 4}, TypeError),
        ({"max_events": 0}, ValueError),
        ({"max_events": 2.5}, ValueError),
        ({"max_age": 0}, ValueError),
        ({"max_age": "1"}, ValueError),
    ],
)
def test_bad_history_options_fail_when_the_observer_is_declared(value, error):
    with pytest.raises(error):

        class Bad(GenericAsyncAPIConsumer):
            @model_observer(ObsJournalEntry, history=value)
            async def changes(self, message: Any, **kwargs: Any) -> None:
                pass


# ------------------------------------------------------------ resume input
@pytest.mark.parametrize(
    "resume",
    [
        "abc",
        [["e", 1]],
        {"g": "e"},
        {"g": ["e"]},
        {"g": ["e", 1, 2]},
        {"g": [1, 1]},
        {"g": ["e", -1]},
        {"g": ["e", 1.5]},
        {"g": ["e", True]},
        {"g": ["e" * 65, 1]},
        {"g" * 33: ["e", 1]},
        {f"g{i}": ["e", 1] for i in range(65)},
    ],
)
def test_bad_resume_values_are_refused(resume):
    with pytest.raises(ActionError) as raised:
        history.parse_resume(resume)
    assert raised.value.status_code == 400


def test_resume_values_are_parsed():
    assert history.parse_resume(None) is None
    assert history.parse_resume({"ab": ["e1", 0]}) == {"ab": Position("e1", 0)}


# ----------------------------------------------------------- memory store
POLICY = HistoryPolicy(max_events=3, max_age=60)


async def test_memory_store_numbers_events_per_group_from_one():
    store = MemoryHistory()
    heads = await store.heads(["a", "b"], POLICY)
    assert [head.offset for head in heads] == [0, 0]
    positions = await store.append(
        [("a", {"n": 1}, POLICY), ("b", {"n": 2}, POLICY), ("a", {"n": 3}, POLICY)]
    )
    assert [p.offset for p in positions] == [1, 1, 2]
    assert positions[0].epoch == positions[2].epoch == heads[0].epoch != heads[1].epoch


async def test_memory_store_replays_exactly_what_came_after_a_position():
    store = MemoryHistory()
    (start,) = await store.heads(["a"], POLICY)
    await store.append([("a", {"n": n}, POLICY) for n in (1, 2, 3)])
    replay = await store.read("a", Position(start.epoch, 1), POLICY)
    assert replay.recovered and replay.head == Position(start.epoch, 3)
    assert replay.messages == [
        {"n": 2, "position": [start.epoch, 2]},
        {"n": 3, "position": [start.epoch, 3]},
    ]
    nothing = await store.read("a", Position(start.epoch, 3), POLICY)
    assert nothing.recovered and nothing.messages == []


async def test_memory_store_says_why_it_cannot_replay():
    store = MemoryHistory()
    (start,) = await store.heads(["a"], POLICY)
    await store.append([("a", {"n": n}, POLICY) for n in range(1, 6)])
    # Only the last three are kept: 1 and 2 are gone.
    assert (await store.read("a", Position(start.epoch, 0), POLICY)).reason == history.EXPIRED
    assert (await store.read("a", Position(start.epoch, 2), POLICY)).recovered
    assert (await store.read("a", Position("other", 2), POLICY)).reason == history.EPOCH
    assert (await store.read("a", Position(start.epoch, 9), POLICY)).reason == history.EPOCH


async def test_memory_store_forgets_groups_idle_past_max_age():
    store = MemoryHistory()
    brief = HistoryPolicy(max_events=3, max_age=0.05)
    (old,) = await store.append([("a", {"n": 1}, brief)])
    await asyncio.sleep(0.1)
    replay = await store.read("a", Position(old.epoch, 0), brief)
    assert replay.reason == history.EPOCH and replay.head.epoch != old.epoch


async def test_memory_store_evicts_the_least_recently_written_group():
    store = MemoryHistory()
    with override_settings(CHANNELS_GATEWAY={"OBSERVER_HISTORY_MAX_GROUPS": 2}):
        (a,) = await store.append([("a", {}, POLICY)])
        await store.append([("b", {}, POLICY), ("c", {}, POLICY)])
        replay = await store.read("a", a, POLICY)
    assert replay.reason == history.EPOCH


@in_memory_layer_only
async def test_the_in_memory_layer_has_a_memory_store_and_unknown_layers_none(caplog):
    assert isinstance(history.store_for(get_channel_layer()), MemoryHistory)
    assert history.store_for(get_channel_layer()) is history.store_for(get_channel_layer())
    assert history.store_for(None) is None
    assert history.store_for(object()) is None
    assert "keeps no observer history" in caplog.text


# ------------------------------------------------- positions and resuming
async def test_pushes_and_subscribe_replies_carry_positions(clients):
    entry = await db(ObsJournalEntry.objects.create)(title="a")
    client = await clients()
    reply = await call(
        client, "entries", {"action": "subscribe_instance", "pk": entry.pk, "request_id": 1}
    )
    assert reply["response_status"] == 201
    (start,) = reply["positions"]
    # The create was event 1 of the object's group (sent with nobody subscribed:
    # the history keeps it for whoever resumes).
    assert start["offset"] == 1 and len(start["group"]) == 16
    for n in (1, 2):
        await db(ObsJournalEntry.objects.filter(pk=entry.pk).update)(title=f"v{n}")
        got = await receive_push(client, "entries", 1)
        assert got["data"]["title"] == f"v{n}"
        assert got["position"] == dict(start, offset=1 + n)


async def test_observers_without_history_send_no_positions(clients):
    item = await db(ObsItem.objects.create)(name="plain")
    client = await clients()
    reply = await call(
        client, "items", {"action": "subscribe_instance", "pk": item.pk, "request_id": 1}
    )
    assert "positions" not in reply
    await db(ObsItem.objects.filter(pk=item.pk).update)(count=1)
    assert "position" not in await receive_push(client, "items", 1)


async def test_resume_replays_exactly_the_missed_events_in_order_without_a_snapshot(
    clients, monkeypatch
):
    entry = await db(ObsJournalEntry.objects.create)(title="v0")
    first = await clients()
    subscribe = {"action": "subscribe_instance", "pk": entry.pk, "request_id": "s"}
    await call(first, "entries", subscribe)
    await db(ObsJournalEntry.objects.filter(pk=entry.pk).update)(title="v1")
    seen = await receive_push(first, "entries", "s")
    await first.disconnect()

    # Missed while away: two updates.
    for n in (2, 3):
        await db(ObsJournalEntry.objects.filter(pk=entry.pk).update)(title=f"v{n}")

    second = await clients()
    queries: list[str] = []
    real_execute = CursorWrapper._execute

    def counted(cursor: Any, sql: str, *args: Any) -> Any:
        queries.append(sql)  # on whichever thread runs it
        return real_execute(cursor, sql, *args)

    with monkeypatch.context() as patch:
        patch.setattr(CursorWrapper, "_execute", counted)
        reply = await call(
            second,
            "entries",
            {**subscribe, "snapshot": True, "resume": token(seen["position"])},
        )
        replayed = [await receive_push(second, "entries", "s") for _ in range(2)]
    assert reply["resume"] == {"recovered": True, "reason": None}
    assert reply["data"] is None  # no snapshot: the replay brings the client up to date
    assert [p["data"]["title"] for p in replayed] == ["v2", "v3"]
    assert [p["position"]["offset"] for p in replayed] == [
        seen["position"]["offset"] + 1,
        seen["position"]["offset"] + 2,
    ]
    # No query at all: the events come from the history, and whether this
    # subscriber may see them is checked per push, as for live ones.
    assert queries == []
    await second.assert_no_frames()

    # And it is live again.
    await db(ObsJournalEntry.objects.filter(pk=entry.pk).update)(title="v4")
    live = await receive_push(second, "entries", "s")
    assert live["data"]["title"] == "v4"
    assert live["position"]["offset"] == seen["position"]["offset"] + 3


async def test_replayed_events_are_permission_checked_like_live_ones(clients):
    entry = await db(ObsJournalEntry.objects.create)(title="v0")
    first = await clients()
    subscribe = {"action": "subscribe_instance", "pk": entry.pk, "request_id": "s"}
    (start,) = (await call(first, "guarded", subscribe))["positions"]
    await first.disconnect()
    for title in ("secret", "public"):
        await db(ObsJournalEntry.objects.filter(pk=entry.pk).update)(title=title)
    second = await clients()
    reply = await call(second, "guarded", {**subscribe, "resume": token(start)})
    assert reply["resume"]["recovered"] is True
    got = await receive_push(second, "guarded", "s")
    assert got["data"]["title"] == "public"
    assert got["position"]["offset"] == start["offset"] + 2  # the secret one was skipped
    await second.assert_no_frames()


async def test_resume_with_nothing_missed_recovers_and_pushes_nothing(clients):
    entry = await db(ObsJournalEntry.objects.create)(title="v0")
    first = await clients()
    subscribe = {"action": "subscribe_instance", "pk": entry.pk, "request_id": "s"}
    reply = await call(first, "entries", subscribe)
    await first.disconnect()
    second = await clients()
    reply = await call(second, "entries", {**subscribe, "resume": token(*reply["positions"])})
    assert reply["resume"] == {"recovered": True, "reason": None}
    await second.assert_no_frames()


async def test_delete_events_are_replayed_too(clients):
    entry = await db(ObsJournalEntry.objects.create)(title="v0")
    keep = await db(ObsJournalEntry.objects.create)(title="other")
    first = await clients()
    subscribe = {"action": "subscribe_list", "request_id": "l"}
    reply = await call(first, "entries", subscribe)
    await first.disconnect()
    await db(ObsJournalEntry.objects.filter(pk=entry.pk).delete)()
    second = await clients()
    reply = await call(second, "entries", {**subscribe, "resume": token(*reply["positions"])})
    assert reply["resume"]["recovered"] is True
    got = await receive_push(second, "entries", "l")
    assert (got["action"], got["data"]) == ("delete", {"pk": entry.pk})
    await second.assert_no_frames()
    assert keep.pk != entry.pk


async def test_list_resume_reports_entering_changing_and_leaving_objects(clients):
    stays = await db(ObsJournalEntry.objects.create)(title="stays", color="red")
    leaves = await db(ObsJournalEntry.objects.create)(title="leaves", color="red")
    first = await clients()
    subscribe = {"action": "subscribe_list", "color": "red", "request_id": "l"}
    reply = await call(first, "entries", subscribe)
    await first.disconnect()

    await db(ObsJournalEntry.objects.filter(pk=stays.pk).update)(title="changed")
    await db(ObsJournalEntry.objects.filter(pk=leaves.pk).update)(color="blue")
    new = await db(ObsJournalEntry.objects.create)(title="new", color="red")
    await db(ObsJournalEntry.objects.create)(title="elsewhere", color="green")

    second = await clients()
    reply = await call(second, "entries", {**subscribe, "resume": token(*reply["positions"])})
    assert reply["resume"]["recovered"] is True and reply["data"] is None
    pushes = [await receive_push(second, "entries", "l") for _ in range(3)]
    assert [(p["action"], p["data"].get("title") or p["data"]["pk"]) for p in pushes] == [
        ("update", "changed"),
        ("delete", leaves.pk),
        ("update", "new"),
    ]
    assert new.pk in {p["data"].get("id") for p in pushes}
    # The event in another colour is nobody's business here; nothing else comes.
    await second.assert_no_frames()


@pytest.mark.parametrize(
    "resume_of, reason",
    [
        (lambda start: {start["group"]: ["another-epoch", start["offset"]]}, history.EPOCH),
        (lambda start: {start["group"]: [start["epoch"], start["offset"] + 5]}, history.EPOCH),
        (lambda start: {"0123456789abcdef": [start["epoch"], 0]}, history.UNKNOWN),
    ],
)
async def test_unrecoverable_resume_says_why_and_answers_with_a_snapshot(
    clients, resume_of, reason
):
    entry = await db(ObsJournalEntry.objects.create)(title="v0")
    client = await clients()
    subscribe = {"action": "subscribe_instance", "pk": entry.pk, "request_id": "s"}
    (start,) = (await call(client, "entries", subscribe))["positions"]
    await db(ObsJournalEntry.objects.filter(pk=entry.pk).update)(title="v1")
    await receive_push(client, "entries", "s")
    other = await clients()
    reply = await call(other, "entries", {**subscribe, "resume": resume_of(start)})
    assert reply["response_status"] == 201
    assert reply["resume"] == {"recovered": False, "reason": reason}
    assert reply["data"] == {"id": entry.pk, "title": "v1", "color": "red"}
    assert reply["positions"] == [dict(start, offset=start["offset"] + 1)]  # go on from here
    await other.assert_no_frames()


async def test_history_trimmed_past_max_events_is_expired(clients):
    entry = await db(ObsJournalEntry.objects.create)(title="v0")
    first = await clients()
    subscribe = {"action": "subscribe_instance", "pk": entry.pk, "request_id": "s"}
    (start,) = (await call(first, "short", subscribe))["positions"]
    await first.disconnect()
    for n in (1, 2, 3):  # three events, two kept
        await db(ObsJournalEntry.objects.filter(pk=entry.pk).update)(title=f"v{n}")
    second = await clients()
    reply = await call(second, "short", {**subscribe, "resume": token(start)})
    assert reply["resume"] == {"recovered": False, "reason": history.EXPIRED}
    assert reply["data"]["title"] == "v3"


async def test_history_older_than_max_age_is_expired(clients):
    entry = await db(ObsJournalEntry.objects.create)(title="v0")
    first = await clients()
    subscribe = {"action": "subscribe_instance", "pk": entry.pk, "request_id": "s"}
    (start,) = (await call(first, "entries", subscribe))["positions"]
    await first.disconnect()
    await db(ObsJournalEntry.objects.filter(pk=entry.pk).update)(title="v1")
    with override_settings(CHANNELS_GATEWAY={"OBSERVER_HISTORY_MAX_AGE": 0.05}):
        await asyncio.sleep(0.1)
        second = await clients()
        reply = await call(second, "entries", {**subscribe, "resume": token(start)})
    assert reply["resume"]["recovered"] is False
    assert reply["resume"]["reason"] in (history.EXPIRED, history.EPOCH)
    assert reply["data"]["title"] == "v1"


async def test_resume_on_an_observer_without_history_is_disabled(clients):
    item = await db(ObsItem.objects.create)(name="plain")
    client = await clients()
    reply = await call(
        client,
        "items",
        {"action": "subscribe_instance", "pk": item.pk, "request_id": 1, "resume": {}},
    )
    assert reply["resume"] == {"recovered": False, "reason": history.DISABLED}
    assert reply["data"]["name"] == "plain"


@pytest.mark.parametrize("action", ["subscribe_instance", "subscribe_list"])
async def test_a_bad_resume_is_400_and_joins_nothing(clients, action):
    entry = await db(ObsJournalEntry.objects.create)(title="v0")
    client = await clients()
    reply = await call(
        client,
        "entries",
        {"action": action, "pk": entry.pk, "request_id": 1, "resume": {"g": ["e", -1]}},
    )
    assert reply["response_status"] == 400
    assert "resume" in reply["errors"][0]
    assert get_channel_layer().groups == {}


async def test_a_resume_after_the_object_was_deleted_replays_the_delete(clients):
    entry = await db(ObsJournalEntry.objects.create)(title="v0")
    first = await clients()
    subscribe = {"action": "subscribe_instance", "pk": entry.pk, "request_id": "s"}
    (start,) = (await call(first, "entries", subscribe))["positions"]
    await first.disconnect()
    await db(ObsJournalEntry.objects.filter(pk=entry.pk).delete)()
    second = await clients()
    reply = await call(second, "entries", {**subscribe, "resume": token(start)})
    assert reply["resume"]["recovered"] is True
    got = await receive_push(second, "entries", "s")
    assert (got["action"], got["data"], got["response_status"]) == ("delete", {"pk": entry.pk}, 204)


async def test_an_unrecoverable_resume_of_a_deleted_object_is_404(clients):
    entry = await db(ObsJournalEntry.objects.create)(title="v0")
    first = await clients()
    subscribe = {"action": "subscribe_instance", "pk": entry.pk, "request_id": "s"}
    (start,) = (await call(first, "entries", subscribe))["positions"]
    await first.disconnect()
    await db(ObsJournalEntry.objects.filter(pk=entry.pk).delete)()
    second = await clients()
    stale = {start["group"]: ["another-epoch", start["offset"]]}
    reply = await call(second, "entries", {**subscribe, "resume": stale})
    assert reply["response_status"] == 404
    await second.assert_no_frames()
    assert get_channel_layer().groups == {}


async def test_a_resume_never_shows_an_object_that_left_the_subscribers_queryset(clients):
    """The recovered resume reads nothing; the replayed event is checked
    against the subscriber's get_queryset() like a live one, so an object
    that became someone else's ends the subscription with a bare delete."""
    ada = await db(User.objects.create)(username=f"ada-{uuid.uuid4().hex[:6]}")
    bob = await db(User.objects.create)(username=f"bob-{uuid.uuid4().hex[:6]}")
    entry = await db(ObsJournalEntry.objects.create)(title="ada's", owner=ada)
    first = await clients(user=ada)
    subscribe = {"action": "subscribe_instance", "pk": entry.pk, "request_id": "s"}
    (start,) = (await call(first, "mine", subscribe))["positions"]
    await first.disconnect()
    await db(ObsJournalEntry.objects.filter(pk=entry.pk).update)(owner=bob, title="bob's now")
    second = await clients(user=ada)
    reply = await call(second, "mine", {**subscribe, "resume": token(start)})
    assert reply["resume"]["recovered"] is True
    got = await receive_push(second, "mine", "s")
    assert (got["action"], got["data"]) == ("delete", {"pk": entry.pk})
    await second.assert_no_frames()
    # And the subscription is over: later changes are not pushed.
    await db(ObsJournalEntry.objects.filter(pk=entry.pk).update)(title="bob's again")
    await second.assert_no_frames()


async def test_custom_observers_get_the_position(clients):
    app = Gateway.as_asgi(streams={"custom": CustomEntryConsumer})
    client = await open_client(app)
    try:
        reply = await call(client, "custom", {"action": "watch", "request_id": 0})
        assert reply["response_status"] == 201
        await db(ObsJournalEntry.objects.create)(title="seen")
        got = await client.receive_from("custom", request_id=0, timeout=2)
        epoch, offset = got["position"]
        assert isinstance(epoch, str) and offset >= 1
    finally:
        await client.disconnect()


# ------------------------------------------------------------- in order
async def test_a_gap_is_filled_from_the_history_and_the_late_copy_dropped(clients, monkeypatch):
    """Events of one group sent by two processes can overtake each other on
    the way; the receiver hands them over in position order, each once."""
    entry = await db(ObsJournalEntry.objects.create)(title="v0")
    client = await clients()
    reply = await call(
        client, "entries", {"action": "subscribe_instance", "pk": entry.pk, "request_id": "s"}
    )
    (start,) = reply["positions"]
    layer = get_channel_layer()
    held: list[tuple[str, dict[str, Any]]] = []
    real_send = layer.group_send

    async def delay_first(group: str, message: dict[str, Any]) -> None:
        if history.group_tag(group) == start["group"] and not held:
            held.append((group, message))  # late: sent after the next one
            return
        await real_send(group, message)

    monkeypatch.setattr(layer, "group_send", delay_first)
    await db(ObsJournalEntry.objects.filter(pk=entry.pk).update)(title="v1")
    await db(ObsJournalEntry.objects.filter(pk=entry.pk).update)(title="v2")
    got = [await receive_push(client, "entries", "s") for _ in range(2)]
    first = start["offset"] + 1
    assert [(p["data"]["title"], p["position"]["offset"]) for p in got] == [
        ("v1", first),
        ("v2", first + 1),
    ]
    await real_send(*held[0])  # the late copy arrives: already handled
    await client.assert_no_frames()


async def test_two_subscriptions_of_one_socket_each_get_every_event_once(clients):
    entry = await db(ObsJournalEntry.objects.create)(title="v0")
    client = await clients()
    for request_id in ("a", "b"):
        reply = await call(
            client,
            "entries",
            {"action": "subscribe_instance", "pk": entry.pk, "request_id": request_id},
        )
    (start,) = reply["positions"]
    await db(ObsJournalEntry.objects.filter(pk=entry.pk).update)(title="v1")
    for request_id in ("a", "b"):
        got = await receive_push(client, "entries", request_id)
        assert got["position"]["offset"] == start["offset"] + 1
    await client.assert_no_frames()
    await settle()


# ------------------------------------------------------------------ Redis
@pytest.fixture
async def redis_layer() -> AsyncIterator[Any]:
    require_redis()
    from channels_redis.core import RedisChannelLayer

    layer = RedisChannelLayer(
        hosts=["redis://127.0.0.1:6379/0"], prefix=f"test-history-{uuid.uuid4().hex}"
    )
    yield layer
    connection = layer.connection(0)
    keys = await connection.keys(f"{layer.prefix}*")
    if keys:
        await connection.delete(*keys)
    await layer.flush()
    await layer.close_pools()


@pytest.mark.redis
async def test_redis_store_positions_are_shared_by_every_process(redis_layer):
    from channels_redis.core import RedisChannelLayer

    store = history.store_for(redis_layer)
    assert isinstance(store, history.RedisHistory)
    # Another process: its own layer object on the same Redis and prefix.
    other = RedisChannelLayer(hosts=["redis://127.0.0.1:6379/0"], prefix=redis_layer.prefix)
    other_store = history.RedisHistory(other)
    try:
        (start,) = await store.heads(["g"], POLICY)
        assert start.offset == 0
        first = await store.append([("g", {"n": 1, "body": {"x": [1, 2]}}, POLICY)])
        second = await other_store.append([("g", {"n": 2}, POLICY)])
        assert [p.offset for p in first + second] == [1, 2]
        assert {p.epoch for p in first + second} == {start.epoch}
        replay = await other_store.read("g", start, POLICY)
        assert replay.recovered
        assert replay.messages == [
            {"n": 1, "body": {"x": [1, 2]}, "position": [start.epoch, 1]},
            {"n": 2, "position": [start.epoch, 2]},
        ]
    finally:
        await other.close_pools()


@pytest.mark.redis
async def test_redis_store_trims_to_max_events_and_expires_keys(redis_layer):
    store = history.RedisHistory(redis_layer)
    (start,) = await store.heads(["g"], POLICY)
    await store.append([("g", {"n": n}, POLICY) for n in range(1, 6)])
    assert (await store.read("g", start, POLICY)).reason == history.EXPIRED
    assert (await store.read("g", Position(start.epoch, 2), POLICY)).recovered
    # The largest offset a client may send is still a valid stream id.
    far = history.MAX_OFFSET - 1
    assert (await store.read("g", Position(start.epoch, far), POLICY)).reason == history.EPOCH
    _meta, log = store._keys("g")
    ttl = await redis_layer.connection(0).pttl(log)
    assert 0 < ttl <= POLICY.max_age * 1000


@pytest.mark.redis
async def test_redis_store_lost_history_is_a_new_epoch(redis_layer):
    """Redis restarted without persistence (or the keys expired): the group
    starts over under a new epoch, and old positions are refused as such."""
    store = history.RedisHistory(redis_layer)
    (start,) = await store.append([("g", {"n": 1}, POLICY)])
    await redis_layer.connection(0).delete(*store._keys("g"))
    assert (await store.read("g", start, POLICY)).reason == history.EPOCH
    (restarted,) = await store.append([("g", {"n": 1}, POLICY)])
    assert restarted.epoch != start.epoch and restarted.offset == 1
    assert (await store.read("g", start, POLICY)).reason == history.EPOCH
