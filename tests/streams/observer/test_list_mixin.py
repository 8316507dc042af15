"""ObserverModelListMixin over the gateway: subscribe_list, enter/change/leave, caps."""

from __future__ import annotations

import pytest
from channels.layers import get_channel_layer
from django.contrib.auth.models import User

from gateway import Gateway
from tests.streams.observer.support import RACE_APP, ItemConsumer, call, db, push, settle
from tests.testapp.models_observer import ObsItem

pytestmark = pytest.mark.django_db(transaction=True)


def item_data(item: ObsItem, **changes) -> dict:
    data = {
        "id": item.pk,
        "name": item.name,
        "count": item.count,
        "color": item.color,
        "owner": item.owner_id,
    }
    data.update(changes)
    return data


async def subscribe(client, pk, request_id="s1", stream="items", **extra):
    return await call(
        client,
        stream,
        {"action": "subscribe_instance", "pk": pk, "request_id": request_id, **extra},
    )


# ------------------------------------------------------------------ lists
async def test_list_subscription_create_update_leave_enter(clients):
    client = await clients()
    reply = await call(
        client, "items", {"action": "subscribe_list", "color": "red", "request_id": "L"}
    )
    assert reply == push("subscribe_list", None, 201, "L")
    item = await db(ObsItem.objects.create)(name="i", color="red")
    assert await client.receive_from("items", request_id="L") == push(
        "create", item_data(item), 201, "L"
    )
    item.count = 4
    await db(item.save)()
    assert await client.receive_from("items", request_id="L") == push(
        "update", item_data(item), 200, "L"
    )
    item.color = "blue"  # leaves the filtered set
    await db(item.save)()
    assert await client.receive_from("items", request_id="L") == push(
        "delete", {"pk": item.pk}, 204, "L"
    )
    item.count = 5  # changes outside the set: nothing
    await db(item.save)()
    await client.assert_no_frames(0.1)
    item.color = "red"  # enters again
    await db(item.save)()
    assert await client.receive_from("items", request_id="L") == push(
        "create", item_data(item), 201, "L"
    )
    await db(ObsItem.objects.create)(name="other", color="green")
    await client.assert_no_frames(0.1)
    pk = item.pk
    await db(item.delete)()
    assert await client.receive_from("items", request_id="L") == push(
        "delete", {"pk": pk}, 204, "L"
    )


async def test_list_snapshot_and_members(clients):
    red = await db(ObsItem.objects.create)(name="r", color="red")
    await db(ObsItem.objects.create)(name="b", color="blue")
    client = await clients()
    reply = await call(
        client,
        "items",
        {"action": "subscribe_list", "color": "red", "snapshot": True, "request_id": 1},
    )
    assert reply == push("subscribe_list", [item_data(red)], 201, 1)
    red.count = 1
    await db(red.save)()
    assert (await client.receive_from("items", request_id=1))["action"] == "update"


async def test_two_list_filters_never_mix(clients):
    client = await clients()
    await call(client, "items", {"action": "subscribe_list", "color": "red", "request_id": "red"})
    await call(client, "items", {"action": "subscribe_list", "color": "blue", "request_id": "blue"})
    item = await db(ObsItem.objects.create)(name="x", color="blue")
    assert (await client.receive_from("items", request_id="blue"))["action"] == "create"
    await client.assert_no_frames(0.1)
    item.color = "red"
    await db(item.save)()
    assert (await client.receive_from("items", request_id="blue"))["action"] == "delete"
    assert (await client.receive_from("items", request_id="red"))["action"] == "create"


async def test_unsubscribe_list(clients):
    client = await clients()
    await call(client, "items", {"action": "subscribe_list", "request_id": "a"})
    await call(client, "items", {"action": "subscribe_list", "color": "red", "request_id": "b"})
    reply = await call(client, "items", {"action": "unsubscribe_list", "request_id": "a"})
    assert reply == push("unsubscribe_list", None, 204, "a")
    await db(ObsItem.objects.create)(name="x", color="red")
    assert (await client.receive_from("items", request_id="b"))["action"] == "create"
    await client.assert_no_frames(0.1)
    await call(client, "items", {"action": "unsubscribe_list", "request_id": "b"})
    assert get_channel_layer().groups == {}
    await call(client, "items", {"action": "unsubscribe_list", "request_id": "b"})  # twice: fine
    await db(ObsItem.objects.create)(name="y", color="red")
    await client.assert_no_frames(0.1)


async def test_list_bad_filter_is_400_and_joins_nothing(clients):
    client = await clients()
    reply = await call(
        client, "items", {"action": "subscribe_list", "color": {"$ne": 1}, "request_id": 1}
    )
    assert reply["response_status"] == 400
    assert get_channel_layer().groups == {}


async def test_list_permission_filters_pushes(clients):
    alice = await db(User.objects.create_user)("alice")
    bob = await db(User.objects.create_user)("bob")
    as_bob = await clients(user=bob)
    await call(as_bob, "items", {"action": "subscribe_list", "request_id": "L"})
    item = await db(ObsItem.objects.create)(name="mine", owner=alice)
    await as_bob.assert_no_frames(0.15)
    item.owner = None  # now visible to everyone: it enters bob's view
    await db(item.save)()
    assert (await as_bob.receive_from("items", request_id="L"))["action"] == "create"
    item.owner = alice
    await db(item.save)()
    assert (await as_bob.receive_from("items", request_id="L"))["action"] == "delete"
    await settle()


async def test_object_created_between_list_subscribe_and_snapshot_is_pushed(clients):
    await db(ObsItem.objects.create)(name="first", color="red")
    client = await clients(RACE_APP)
    reply = await call(
        client,
        "items",
        {"action": "subscribe_list", "color": "red", "snapshot": True, "request_id": "l"},
    )
    assert [entry["name"] for entry in reply["data"]] == ["first"]
    got = await client.receive_from("items", request_id="l")
    assert (got["action"], got["data"]["name"]) == ("create", "racer")


class FailingListRead(ItemConsumer):
    fail = False
    max_subscriptions = 2

    def _list_state(self, kwargs, snapshot):
        if type(self).fail:
            raise RuntimeError("read failed")
        return super()._list_state(kwargs, snapshot)


async def test_a_failed_list_subscribe_leaves_no_trace_beside_other_subscriptions(clients):
    FailingListRead.fail = False
    client = await clients(Gateway.as_asgi(streams={"items": FailingListRead}))
    ok = await call(client, "items", {"action": "subscribe_list", "color": "red", "request_id": 1})
    assert ok["response_status"] == 201
    FailingListRead.fail = True
    bad = await call(
        client, "items", {"action": "subscribe_list", "color": "blue", "request_id": 2}
    )
    assert bad["response_status"] == 500
    FailingListRead.fail = False
    # Request 2 left nothing behind: it holds no slot of the two allowed...
    again = await call(
        client, "items", {"action": "subscribe_list", "color": "red", "request_id": 3}
    )
    assert again["response_status"] == 201
    await call(client, "items", {"action": "unsubscribe_list", "request_id": 3})
    # ...and pushes nothing: a blue item goes to nobody, a red one to 1.
    await db(ObsItem.objects.create)(name="b", color="blue")
    await db(ObsItem.objects.create)(name="r", color="red")
    got = await client.receive_from("items", timeout=2)
    assert (got["action"], got["request_id"]) == ("create", 1)
    await client.assert_no_frames(timeout=0.2)


async def test_an_object_handed_over_leaves_one_list_and_enters_the_other(clients):
    alice = await db(User.objects.create_user)("alice")
    bob = await db(User.objects.create_user)("bob")
    as_alice = await clients(user=alice)
    as_bob = await clients(user=bob)
    for client in (as_alice, as_bob):
        reply = await call(client, "owned", {"action": "subscribe_list", "request_id": "L"})
        assert reply["response_status"] == 201
    item = await db(ObsItem.objects.create)(name="doc", owner=alice)
    assert (await as_alice.receive_from("owned", request_id="L"))["action"] == "create"
    item.owner = bob
    await db(item.save)()
    assert await as_alice.receive_from("owned", request_id="L") == push(
        "delete", {"pk": item.pk}, 204, "L"
    )
    got = await as_bob.receive_from("owned", request_id="L")
    assert (got["action"], got["data"]["owner"]) == ("create", bob.pk)
    item.name = "bob's now"
    await db(item.save)()
    assert (await as_bob.receive_from("owned", request_id="L"))["action"] == "update"
    await as_alice.assert_no_frames(0.15)


async def test_an_object_outside_the_scope_from_the_start_is_never_pushed(clients):
    alice = await db(User.objects.create_user)("alice")
    bob = await db(User.objects.create_user)("bob")
    as_alice = await clients(user=alice)
    await call(as_alice, "owned", {"action": "subscribe_list", "request_id": "L"})
    item = await db(ObsItem.objects.create)(name="bob's", owner=bob)
    await db(item.delete)()
    await as_alice.assert_no_frames(0.15)
    reply = await subscribe(as_alice, 10**6, stream="owned")
    assert reply["response_status"] == 404


# ------------------------------------------------ list subscriptions per socket
class CappedLists(ItemConsumer):
    max_list_subscriptions = 3


CAPPED_APP = Gateway.as_asgi(streams={"a": CappedLists, "b": CappedLists})


async def test_list_subscriptions_are_capped_per_connection(clients):
    client = await clients(CAPPED_APP)

    async def sub(stream, request_id, color):
        payload = {"action": "subscribe_list", "color": color, "request_id": request_id}
        return (await call(client, stream, payload))["response_status"]

    assert [await sub("a", 1, "red"), await sub("a", 2, "blue"), await sub("b", 3, "x")] == [
        201
    ] * 3
    # The cap is the connection's, all streams together.
    reply = await call(client, "b", {"action": "subscribe_list", "color": "y", "request_id": 4})
    assert reply["response_status"] == 429
    assert "limit 3" in reply["errors"][0]
    # Replacing an existing subscription is not a new one.
    assert await sub("a", 1, "green") == 201
    await call(client, "a", {"action": "unsubscribe_list", "request_id": 2})
    assert await sub("b", 4, "y") == 201


async def test_list_cap_defaults_from_the_setting(clients, settings):
    settings.CHANNELS_GATEWAY = {"MAX_LIST_SUBSCRIPTIONS": 1}
    client = await clients()
    first = await call(client, "items", {"action": "subscribe_list", "request_id": 1})
    second = await call(client, "items", {"action": "subscribe_list", "request_id": 2})
    assert (first["response_status"], second["response_status"]) == (201, 429)
    # The refused subscription joined nothing more and pushes nothing.
    await db(ObsItem.objects.create)(name="n")
    got = await client.receive_from("items", timeout=2)
    assert got["request_id"] == 1
    await client.assert_no_frames(0.15)


class ManyLists(ItemConsumer):
    max_list_subscriptions = None
    max_subscriptions = None


async def test_database_work_grows_with_distinct_filters_not_subscriptions(clients, monkeypatch):
    """Checklist 37: 200 list subscriptions with 40 distinct filters on one socket
    and 40 more on 40 sockets: one membership batch of 40 scopes for the write,
    and other connections' requests are answered meanwhile."""
    from streams.observer import membership

    batches: list[int] = []
    real = membership.answer

    def counting(model, pk, scopes):
        batches.append(len(scopes))
        return real(model, pk, scopes)

    monkeypatch.setattr(membership, "answer", counting)
    app = Gateway.as_asgi(streams={"items": ManyLists})
    heavy = await clients(app)
    for start in range(0, 200, 50):  # within the gateway's requests-in-flight cap
        window = range(start, start + 50)
        for i in window:
            payload = {"action": "subscribe_list", "name": f"n{i % 40}", "request_id": i}
            await heavy.send_to("items", payload)
        for i in window:
            reply = await heavy.receive_from("items", request_id=i, timeout=5)
            assert reply["response_status"] == 201
    others = [await clients(app) for _ in range(40)]
    for i, other in enumerate(others):
        payload = {"action": "subscribe_list", "name": f"n{i}", "request_id": "o"}
        assert (await call(other, "items", payload))["response_status"] == 201
    bystander = await clients(app)

    item = await db(ObsItem.objects.create)(name="n7")
    reply = await call(bystander, "items", {"action": "retrieve", "pk": item.pk, "request_id": "r"})
    assert reply["response_status"] == 200
    got = {(await heavy.receive_from("items", timeout=5))["request_id"] for _ in range(5)}
    assert got == {7, 47, 87, 127, 167}
    assert (await others[7].receive_from("items", request_id="o"))["action"] == "create"
    await heavy.assert_no_frames(0.1)
    # One batch for the whole process (or a few, when sockets reach it in
    # different loop turns), never more scopes than distinct filters.
    assert sum(batches) == 40, batches
