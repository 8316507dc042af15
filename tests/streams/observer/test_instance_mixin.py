"""ObserverModelInstanceMixin over the gateway: subscribe_instance, pushes, scoping."""

from __future__ import annotations

import pytest
from channels.layers import get_channel_layer
from django.contrib.auth.models import User

from tests.streams.observer.support import RACE_APP, call, db, push
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


# --------------------------------------- no lost update between join and read


async def test_change_between_subscribe_and_snapshot_is_pushed(clients):
    """Checklist 20: the group is joined before the snapshot is read, so a
    change committed in between still arrives as a push after the snapshot."""
    item = await db(ObsItem.objects.create)(name="raced", count=1)
    client = await clients(RACE_APP)
    reply = await subscribe(client, item.pk, snapshot=True)
    assert reply == push("subscribe_instance", item_data(item, count=1), 201, "s1")
    got = await client.receive_from("items", request_id="s1")
    assert got == push("update", item_data(item, count=42), 200, "s1")


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
