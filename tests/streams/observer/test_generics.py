"""ObserverModelInstanceMixin and ObserverModelListMixin, over the gateway."""

from __future__ import annotations

import time
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.contrib.auth.models import User

from gateway import Gateway
from streams.generics import GenericAsyncAPIConsumer
from streams.observer.generics import ObserverModelInstanceMixin
from tests.streams.observer.support import ItemConsumer, call, db, push, settle
from tests.testapp.models_observer import ObsItem, ObsUuidItem

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


async def test_subscribe_instance_then_update_and_delete(clients):
    item = await db(ObsItem.objects.create)(name="a")
    pk = item.pk
    client = await clients()
    assert await subscribe(client, pk) == push("subscribe_instance", None, 201, "s1")
    await db(ObsItem.objects.filter(pk=pk).update)(count=5)
    got = await client.receive_from("items", request_id="s1")
    assert got == push("update", item_data(item, count=5), 200, "s1")
    await db(item.delete)()
    got = await client.receive_from("items", request_id="s1")
    assert got == push("delete", {"pk": pk}, 204, "s1")
    await client.assert_no_frames()


async def test_retrieve_is_available(clients):
    item = await db(ObsItem.objects.create)(name="r")
    client = await clients()
    reply = await call(client, "items", {"action": "retrieve", "pk": item.pk, "request_id": 1})
    assert reply == push("retrieve", item_data(item), 200, 1)


async def test_snapshot_returns_current_object(clients):
    item = await db(ObsItem.objects.create)(name="snap", count=3)
    client = await clients()
    reply = await subscribe(client, item.pk, snapshot=True)
    assert reply == push("subscribe_instance", item_data(item), 201, "s1")


async def test_subscribe_missing_pk_is_404_and_joins_nothing(clients):
    client = await clients()
    reply = await subscribe(client, 999999)
    assert reply["response_status"] == 404
    assert reply["data"] is None
    assert get_channel_layer().groups == {}


async def test_subscribe_without_request_id_pushes_and_unsubscribes(clients):
    item = await db(ObsItem.objects.create)(name="n")
    client = await clients()
    await client.send_to("items", {"action": "subscribe_instance", "pk": item.pk})
    reply = await client.receive_from("items")
    assert reply == push("subscribe_instance", None, 201, None)
    await db(ObsItem.objects.filter(pk=item.pk).update)(count=1)
    got = await client.receive_from("items")
    assert got == push("update", item_data(item, count=1), 200, None)
    await client.send_to("items", {"action": "unsubscribe_instance", "pk": item.pk})
    assert await client.receive_from("items") == push("unsubscribe_instance", None, 204, None)
    assert get_channel_layer().groups == {}
    await db(ObsItem.objects.filter(pk=item.pk).update)(count=2)
    await client.assert_no_frames(0.1)


async def test_unsubscribe_leaves_group_twice_is_fine(clients):
    item = await db(ObsItem.objects.create)(name="u")
    client = await clients()
    await subscribe(client, item.pk)
    assert len(get_channel_layer().groups) == 1
    for _ in range(2):
        reply = await call(
            client, "items", {"action": "unsubscribe_instance", "pk": item.pk, "request_id": "s1"}
        )
        assert reply == push("unsubscribe_instance", None, 204, "s1")
    assert get_channel_layer().groups == {}
    await db(ObsItem.objects.filter(pk=item.pk).update)(count=9)
    await client.assert_no_frames(0.1)


async def test_two_request_ids_one_group_left_after_both(clients):
    item = await db(ObsItem.objects.create)(name="two")
    client = await clients()
    await subscribe(client, item.pk, "a")
    await subscribe(client, item.pk, "b")
    await db(ObsItem.objects.filter(pk=item.pk).update)(count=1)
    assert (await client.receive_from("items", request_id="a"))["action"] == "update"
    assert (await client.receive_from("items", request_id="b"))["action"] == "update"
    await call(
        client, "items", {"action": "unsubscribe_instance", "pk": item.pk, "request_id": "a"}
    )
    assert len(get_channel_layer().groups) == 1
    await db(ObsItem.objects.filter(pk=item.pk).update)(count=2)
    assert (await client.receive_from("items", request_id="b"))["data"]["count"] == 2
    await client.assert_no_frames(0.1)
    await call(
        client, "items", {"action": "unsubscribe_instance", "pk": item.pk, "request_id": "b"}
    )
    assert get_channel_layer().groups == {}


async def test_unsubscribe_deleted_instance(clients):
    item = await db(ObsItem.objects.create)(name="gone")
    pk = item.pk
    client = await clients()
    await subscribe(client, pk)
    await db(item.delete)()
    assert (await client.receive_from("items", request_id="s1"))["action"] == "delete"
    reply = await call(
        client, "items", {"action": "unsubscribe_instance", "pk": pk, "request_id": "s1"}
    )
    assert reply == push("unsubscribe_instance", None, 204, "s1")
    assert get_channel_layer().groups == {}


async def test_unsubscribe_needs_lookup_key(clients):
    client = await clients()
    reply = await call(client, "items", {"action": "unsubscribe_instance", "request_id": 3})
    assert reply["response_status"] == 400
    assert reply["errors"] == [{"pk": ["This field is required."]}]


async def test_disconnect_leaves_groups(clients):
    item = await db(ObsItem.objects.create)(name="d")
    client = await clients()
    await subscribe(client, item.pk)
    await call(client, "items", {"action": "subscribe_list", "request_id": "l"})
    assert len(get_channel_layer().groups) == 2
    await client.disconnect()
    assert get_channel_layer().groups == {}


async def test_uuid_pk(clients):
    item = await db(ObsUuidItem.objects.create)(name="u1")
    client = await clients()
    reply = await subscribe(client, str(item.pk), stream="uuids")
    assert reply["response_status"] == 201
    item.name = "u2"
    await db(item.save)()
    got = await client.receive_from("uuids", request_id="s1")
    assert got == push("update", {"id": str(item.pk), "name": "u2"}, 200, "s1")
    pk = item.pk
    await db(item.delete)()
    got = await client.receive_from("uuids", request_id="s1")
    assert got == push("delete", {"pk": str(pk)}, 204, "s1")
    reply = await call(
        client,
        "uuids",
        {"action": "unsubscribe_instance", "pk": str(pk).upper(), "request_id": "x"},
    )
    assert reply["response_status"] == 204
    reply = await call(
        client, "uuids", {"action": "unsubscribe_instance", "pk": "not-a-uuid", "request_id": "y"}
    )
    assert reply["response_status"] == 204


async def test_object_permission_denied_subscriber_gets_nothing(clients):
    alice = await db(User.objects.create_user)("alice")
    bob = await db(User.objects.create_user)("bob")
    item = await db(ObsItem.objects.create)(name="p")
    as_alice = await clients(user=alice)
    as_bob = await clients(user=bob)
    await subscribe(as_alice, item.pk, "a")
    await subscribe(as_bob, item.pk, "b")
    item.owner = alice
    await db(item.save)()
    got = await as_alice.receive_from("items", request_id="a")
    assert got == push("update", item_data(item), 200, "a")
    # Bob's permission denies the object's new state: no 403, no data, nothing.
    await as_bob.assert_no_frames(0.15)
    await db(item.delete)()
    assert (await as_alice.receive_from("items", request_id="a"))["action"] == "delete"
    await as_bob.assert_no_frames(0.1)


async def test_subscribe_to_object_you_may_not_see_is_403(clients):
    alice = await db(User.objects.create_user)("alice")
    bob = await db(User.objects.create_user)("bob")
    item = await db(ObsItem.objects.create)(name="p", owner=alice)
    as_bob = await clients(user=bob)
    reply = await subscribe(as_bob, item.pk)
    assert reply["response_status"] == 403
    assert get_channel_layer().groups == {}


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


# --------------------------------------- no lost update between join and read
class WriteWhileReading(ItemConsumer):
    """Another writer commits after the snapshot was read and before it is sent:
    ``get_serializer`` runs between the two, so the write happens there."""

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("many"):
            ObsItem.objects.create(name="racer", color="red")
        else:
            ObsItem.objects.filter(pk=kwargs["instance"].pk).update(count=42)
        return super().get_serializer(*args, **kwargs)


RACE_APP = Gateway.as_asgi(streams={"items": WriteWhileReading})


async def test_change_between_subscribe_and_snapshot_is_pushed(clients):
    """Checklist 20: the group is joined before the snapshot is read, so a
    change committed in between still arrives as a push after the snapshot."""
    item = await db(ObsItem.objects.create)(name="raced", count=1)
    client = await clients(RACE_APP)
    reply = await subscribe(client, item.pk, snapshot=True)
    assert reply == push("subscribe_instance", item_data(item, count=1), 201, "s1")
    got = await client.receive_from("items", request_id="s1")
    assert got == push("update", item_data(item, count=42), 200, "s1")


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


class WriteThenLinger(ItemConsumer):
    """The write's push reaches the consumer while the snapshot is still being
    prepared (the database thread lingers after the write)."""

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("many"):
            # A delete's push needs no database work, so nothing else delays it.
            ObsItem.objects.filter(pk=kwargs["instance"].pk).delete()
            time.sleep(0.2)
        return super().get_serializer(*args, **kwargs)


async def test_a_push_never_overtakes_its_subscribe_reply(clients):
    """Events are handled while actions run; the push for a change made during
    the subscribe must still come after the reply, or a client would apply the
    older snapshot over it."""
    item = await db(ObsItem.objects.create)(name="ordered", count=1)
    client = await clients(Gateway.as_asgi(streams={"items": WriteThenLinger}))
    await client.send_to(
        "items",
        {"action": "subscribe_instance", "pk": item.pk, "request_id": "o", "snapshot": True},
    )
    first = (await client.receive_frame(timeout=2))["payload"]
    second = (await client.receive_frame(timeout=2))["payload"]
    assert (first["action"], first["response_status"]) == ("subscribe_instance", 201)
    assert second == push("delete", {"pk": item.pk}, 204, "o")


def _same_qualname_consumers():
    """Two consumer classes made by one factory: same module and qualname."""

    def make(model):
        class Made(ObserverModelInstanceMixin, GenericAsyncAPIConsumer):
            queryset = model.objects.all()
            serializer_class = None

        return Made

    return make(ObsItem), make(ObsUuidItem)


def test_same_qualname_for_different_models_never_shares_groups():
    items, uuids = _same_qualname_consumers()
    assert items.__qualname__ == uuids.__qualname__
    item_groups = items.handle_instance_change.group_names_for_consumer(None, pk=1)
    uuid_groups = uuids.handle_instance_change.group_names_for_consumer(None, pk=1)
    assert set(item_groups).isdisjoint(uuid_groups)


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


# ------------------------------------------------ get_queryset() scoping (#11)
async def test_an_object_handed_to_someone_else_leaves_the_instance_subscribers_view(clients):
    """Alice subscribes to her item; it is handed to Bob: one ``delete`` push
    ("gone"), her retrieve is 404, and nothing of Bob's next update reaches her."""
    alice = await db(User.objects.create_user)("alice")
    bob = await db(User.objects.create_user)("bob")
    item = await db(ObsItem.objects.create)(name="doc", owner=alice)
    as_alice = await clients(user=alice)
    as_bob = await clients(user=bob)
    assert (await subscribe(as_alice, item.pk, stream="owned"))["response_status"] == 201
    await db(ObsItem.objects.filter(pk=item.pk).update)(count=1)
    got = await as_alice.receive_from("owned", request_id="s1")
    assert got == push("update", item_data(item, count=1), 200, "s1")

    item.owner, item.count = bob, 1
    await db(item.save)()
    gone = await as_alice.receive_from("owned", request_id="s1")
    assert gone == push("delete", {"pk": item.pk}, 204, "s1")
    reply = await call(as_alice, "owned", {"action": "retrieve", "pk": item.pk, "request_id": 2})
    assert reply["response_status"] == 404
    # The subscription ended with the "gone" push: its group is left.
    assert get_channel_layer().groups == {}

    assert (await subscribe(as_bob, item.pk, stream="owned"))["response_status"] == 201
    item.name = "secret of bob"
    await db(item.save)()
    got = await as_bob.receive_from("owned", request_id="s1")
    assert got["data"]["name"] == "secret of bob"
    await as_alice.assert_no_frames(0.15)


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
