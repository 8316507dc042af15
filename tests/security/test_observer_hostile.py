"""Hostile input to the observer actions: never a 500, never a shared or odd group."""

from __future__ import annotations

from typing import Any

import pytest
from channels.layers import get_channel_layer

from gateway import Gateway
from tests.streams.observer import conftest as observer_fixtures
from tests.streams.observer.support import ItemConsumer, call, db
from tests.testapp.models_observer import ObsItem

clients = observer_fixtures.clients

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def empty_layer(layer):
    """Every test here starts and ends with an empty layer (the shared ``layer``)."""
    yield


@pytest.mark.parametrize(
    "pk", ["abc", {}, [], None, True, 1e300, 2**80, "1; DROP TABLE x", "9" * 5000]
)
async def test_unusable_pks_are_404(clients, pk):
    client = await clients()
    reply = await call(client, "items", {"action": "subscribe_instance", "pk": pk, "request_id": 1})
    assert reply["response_status"] == 404, reply
    assert get_channel_layer().groups == {}
    reply = await call(
        client, "items", {"action": "unsubscribe_instance", "pk": pk, "request_id": 2}
    )
    assert reply["response_status"] in (204, 404), reply


@pytest.mark.parametrize("snapshot", ["yes", 1, None, {}, []])
async def test_snapshot_must_be_boolean(clients, snapshot):
    item = await db(ObsItem.objects.create)(name="s")
    client = await clients()
    for action in ("subscribe_instance", "subscribe_list"):
        reply = await call(
            client,
            "items",
            {"action": action, "pk": item.pk, "snapshot": snapshot, "request_id": 1},
        )
        assert reply["response_status"] == 400, reply
    assert get_channel_layer().groups == {}


async def test_odd_request_ids_work_and_are_echoed(clients):
    item = await db(ObsItem.objects.create)(name="r")
    client = await clients()
    odd = [{"nested": [1, {"a": None}]}, [1, 2], 1.5, "x" * 500, 0, False]
    for request_id in odd:
        reply = await call(
            client,
            "items",
            {"action": "subscribe_instance", "pk": item.pk, "request_id": request_id},
        )
        assert reply["response_status"] == 201
    await db(ObsItem.objects.filter(pk=item.pk).update)(count=1)
    for request_id in odd:
        got = await client.receive_from("items", request_id=request_id)
        assert got["action"] == "update"
    for request_id in odd:
        await call(
            client,
            "items",
            {"action": "unsubscribe_instance", "pk": item.pk, "request_id": request_id},
        )
    assert get_channel_layer().groups == {}


async def test_client_values_in_group_names_are_hashed(clients):
    client = await clients()
    # (NUL is refused before any action: tests/security/test_streams_text.py)
    hostile = ["../" * 100, "a" * 10_000, "é\x01\n;", {"$where": "1"}, [1, [2]], 10**30]
    for index, school in enumerate(hostile):
        reply = await call(
            client,
            "classrooms",
            {"action": "subscribe_school", "school": school, "request_id": index},
        )
        assert reply["response_status"] == 201, reply
    groups = list(get_channel_layer().groups)
    assert len(groups) == len(hostile)  # distinct values never share a group
    for group in groups:
        assert len(group) < 100 and get_channel_layer().require_valid_group_name(group)


async def test_list_filter_values_that_do_not_fit_are_400(clients):
    client = await clients()
    for bad in [{"a": 1}, [1, 2], 10**30, float("inf")]:
        await client.send_raw(
            '{"stream": "items", "payload": {"action": "subscribe_list", "color": %s, "request_id": 7}}'
            % ("1e999" if bad == float("inf") else __import__("json").dumps(bad))
        )
        reply = await client.receive_from("items", request_id=7)
        assert reply["response_status"] in (400, 404), reply
    assert get_channel_layer().groups == {}


async def test_unknown_message_types_from_the_layer_do_not_reach_observers(clients):
    """Only observers registered on the class are dispatched directly."""
    from tests.streams.observer.support import ItemConsumer

    assert set(ItemConsumer.observer_message_types.values()) == {
        "handle_instance_change",
        "handle_list_change",
    }


#: Instances of _RecordingItemConsumer, to measure what a socket holds.
_RECORDED: list[Any] = []


class _RecordingItemConsumer(ItemConsumer):
    async def websocket_connect(self, message: Any) -> None:
        _RECORDED.append(self)
        await super().websocket_connect(message)


async def test_spellings_of_one_pk_do_not_grow_server_state(clients):
    # " 7", "07", "+7"... all name pk 7 and repeat one subscription (no 429),
    # so nothing per spelling may be kept, or one socket grows without bound.
    item = await db(ObsItem.objects.create)(name="a")
    _RECORDED.clear()
    client = await clients(Gateway.as_asgi(streams={"items": _RecordingItemConsumer}))
    spellings = [str(item.pk)] + [" " * n + str(item.pk) for n in range(1, 40)]
    spellings += ["0" * n + str(item.pk) for n in range(1, 40)]
    for spelling in spellings:
        reply = await call(
            client, "items", {"action": "subscribe_instance", "pk": spelling, "request_id": 1}
        )
        assert reply["response_status"] == 201, reply
    [consumer] = _RECORDED
    state = consumer.__dict__
    held = sum(
        len(v) for k, v in state.items() if k.startswith("_observer") and isinstance(v, dict)
    )
    assert held <= 1
    # The subscription still ends through any spelling.
    reply = await call(
        client, "items", {"action": "unsubscribe_instance", "pk": f"00{item.pk}", "request_id": 1}
    )
    assert reply["response_status"] == 204
    # No group holds this consumer any more (other tests' groups may exist).
    groups = get_channel_layer().groups
    assert all(consumer.channel_name not in members for members in groups.values())


# ----------------------------------------------------- scoping (#10, #11)
class _TenantItems(ItemConsumer):
    """Scoped by more than the user: one user, two tenants, two querysets."""

    permission_classes: list[Any] = []

    def get_queryset(self, **kwargs: Any) -> Any:
        return ObsItem.objects.filter(color=self.scope["tenant"])


async def test_one_user_with_two_scopes_never_shares_membership_answers(clients):
    """The cache key is the compiled queryset, not the user: the same user on two
    sockets with different scopes gets the answers of their own scope."""
    from django.contrib.auth.models import User

    alice = await db(User.objects.create_user)("alice")
    app = Gateway.as_asgi(streams={"items": _TenantItems})
    red = await clients(app, user=alice, tenant="red")
    blue = await clients(app, user=alice, tenant="blue")
    for client in (red, blue):
        reply = await call(client, "items", {"action": "subscribe_list", "request_id": "L"})
        assert reply["response_status"] == 201
    item = await db(ObsItem.objects.create)(name="x", color="red")
    assert (await red.receive_from("items", request_id="L"))["action"] == "create"
    await blue.assert_no_frames(0.15)
    item.color = "blue"
    await db(item.save)()
    assert (await red.receive_from("items", request_id="L"))["action"] == "delete"
    assert (await blue.receive_from("items", request_id="L"))["action"] == "create"


async def test_a_flood_of_distinct_list_filters_is_capped(clients, monkeypatch, settings):
    """Beyond MAX_LIST_SUBSCRIPTIONS a socket's subscribe_list is 429, and a write
    asks the database about at most that many querysets for it."""
    from streams.observer import membership

    settings.CHANNELS_GATEWAY = {"MAX_LIST_SUBSCRIPTIONS": 60}
    asked: list[int] = []
    real = membership.answer

    def counting(model, pk, scopes):
        asked.append(len(scopes))
        return real(model, pk, scopes)

    monkeypatch.setattr(membership, "answer", counting)
    client = await clients()
    statuses = []
    for start in range(0, 100, 50):
        for i in range(start, start + 50):
            payload = {"action": "subscribe_list", "name": f"n{i}", "request_id": i}
            await client.send_to("items", payload)
        for i in range(start, start + 50):
            statuses.append((await client.receive_from("items", request_id=i))["response_status"])
    assert statuses == [201] * 60 + [429] * 40
    await db(ObsItem.objects.create)(name="n5")
    assert (await client.receive_from("items", request_id=5))["action"] == "create"
    assert sum(asked) == 60


async def test_refused_instance_subscriptions_leave_nothing_behind(clients):
    """Subscribing to many pks past the cap (429) must not grow per-socket state."""
    items = [await db(ObsItem.objects.create)(name=f"i{i}") for i in range(30)]
    _RECORDED.clear()

    class Capped(_RecordingItemConsumer):
        max_subscriptions = 5

    client = await clients(Gateway.as_asgi(streams={"items": Capped}))
    statuses = []
    for index, item in enumerate(items):
        payload = {"action": "subscribe_instance", "pk": item.pk, "request_id": index}
        statuses.append((await call(client, "items", payload))["response_status"])
    assert statuses == [201] * 5 + [429] * 25
    [consumer] = _RECORDED
    assert len(consumer.__dict__["_observer_scopes"]) == 5
