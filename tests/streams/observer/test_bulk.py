"""ObservableQuerySet: bulk writes emit the events single saves emit, one per object per commit."""

from __future__ import annotations

import pytest
from django.db import transaction

from tests.streams.observer.support import call, db
from tests.testapp.models_observer import ObsItem, ObsSchool, ObsTag, ObsUuidItem

pytestmark = pytest.mark.django_db(transaction=True)


async def list_client(clients, **filters):
    client = await clients()
    await call(client, "items", {"action": "subscribe_list", "request_id": "L", **filters})
    return client


async def frames(client, count):
    return [await client.receive_from("items", request_id="L") for _ in range(count)]


async def test_queryset_update(clients):
    items = [await db(ObsItem.objects.create)(name=f"i{i}", color="red") for i in range(3)]
    client = await list_client(clients, color="red")
    count = await db(ObsItem.objects.filter(name__in=["i0", "i1"]).update)(count=7)
    assert count == 2
    got = await frames(client, 2)
    assert {(f["action"], f["data"]["id"], f["data"]["count"]) for f in got} == {
        ("update", items[0].pk, 7),
        ("update", items[1].pk, 7),
    }
    await client.assert_no_frames(0.1)


async def test_update_that_moves_rows_out_of_the_set(clients):
    items = [await db(ObsItem.objects.create)(name=f"i{i}", color="red") for i in range(2)]
    client = await list_client(clients, color="red")
    await db(ObsItem.objects.filter(color="red").update)(color="blue")
    got = await frames(client, 2)
    assert sorted((f["action"], f["data"]["pk"]) for f in got) == [("delete", i.pk) for i in items]


async def test_bulk_create(clients):
    client = await list_client(clients)
    created = await db(ObsItem.objects.bulk_create)([ObsItem(name=f"b{i}") for i in range(3)])
    got = await frames(client, 3)
    assert sorted(f["data"]["id"] for f in got) == sorted(o.pk for o in created)
    assert {f["action"] for f in got} == {"create"}


async def test_bulk_update(clients):
    items = [await db(ObsItem.objects.create)(name=f"i{i}") for i in range(3)]
    client = await list_client(clients)
    for item in items:
        item.count = 42
    await db(ObsItem.objects.bulk_update)(items, ["count"])
    got = await frames(client, 3)
    assert {(f["action"], f["data"]["count"]) for f in got} == {("update", 42)}
    await client.assert_no_frames(0.1)


async def test_queryset_delete_needs_no_mixin(clients):
    items = [await db(ObsItem.objects.create)(name=f"i{i}") for i in range(2)]
    client = await list_client(clients)
    await db(ObsItem.objects.all().delete)()
    got = await frames(client, 2)
    assert sorted((f["action"], f["data"]["pk"]) for f in got) == [("delete", i.pk) for i in items]


async def test_cascade_delete_is_observed(clients):
    school = await db(ObsSchool.objects.create)(name="s")
    room = await db(school.classrooms.create)(name="r")
    client = await clients()
    await call(
        client, "classrooms", {"action": "subscribe_classroom", "pk": room.pk, "request_id": "c"}
    )
    await db(school.delete)()
    got = await client.receive_from("classrooms", request_id="c")
    assert got["action"] == "delete"


async def test_many_writes_in_one_transaction_one_message_per_object(clients):
    items = [await db(ObsItem.objects.create)(name=f"i{i}") for i in range(3)]
    client = await list_client(clients)

    def work():
        with transaction.atomic():
            ObsItem.objects.all().update(count=1)
            ObsItem.objects.filter(pk=items[0].pk).update(count=2)
            items[1].count = 3
            ObsItem.objects.bulk_update([items[1]], ["count"])
            items[2].count = 4
            items[2].save()

    await db(work)()
    got = await frames(client, 3)
    assert sorted((f["data"]["id"], f["data"]["count"]) for f in got) == [
        (items[0].pk, 2),
        (items[1].pk, 3),
        (items[2].pk, 4),
    ]
    await client.assert_no_frames(0.15)


async def test_unobserved_model_keeps_plain_behaviour():
    # ObsTag has no observer: the plain QuerySet path, no extra work.
    await db(ObsTag.objects.create)(name="t")
    assert await db(ObsTag.objects.filter(name="t").update)(name="u") == 1


async def test_bulk_create_ignore_conflicts_reports_only_inserted_rows(clients):
    # Objects with a preset pk keep it even when the database skipped their
    # row: only rows really inserted are reported, with what was stored.
    stored = await db(ObsUuidItem.objects.create)(name="stored")
    client = await clients()
    await call(
        client, "uuids", {"action": "subscribe_instance", "pk": str(stored.pk), "request_id": "s"}
    )
    fresh = ObsUuidItem(name="fresh")
    await db(ObsUuidItem.objects.bulk_create)(
        [ObsUuidItem(id=stored.pk, name="never stored"), fresh], ignore_conflicts=True
    )
    await client.assert_no_frames(0.2)
    assert await db(ObsUuidItem.objects.filter(pk=fresh.pk).exists)()


async def test_bulk_create_ignore_conflicts_reports_inserted_rows(clients):
    client = await list_client(clients)
    existing = await db(ObsItem.objects.create)(name="old")
    await client.receive_from("items", request_id="L")  # its create
    fresh_pk = existing.pk + 100
    await db(ObsItem.objects.bulk_create)(
        [ObsItem(id=existing.pk, name="clobber?"), ObsItem(id=fresh_pk, name="new")],
        ignore_conflicts=True,
    )
    [got] = await frames(client, 1)
    assert (got["action"], got["data"]["id"], got["data"]["name"]) == ("create", fresh_pk, "new")
    await client.assert_no_frames(0.1)


async def test_bulk_create_upsert_reports_the_stored_row(clients):
    item = await db(ObsItem.objects.create)(name="a", count=1)
    client = await list_client(clients)
    await db(ObsItem.objects.bulk_create)(
        [ObsItem(id=item.pk, name="b", count=99)],
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=["name"],
    )
    [got] = await frames(client, 1)
    # count was not among update_fields: the row still holds 1.
    assert (got["action"], got["data"]["name"], got["data"]["count"]) == ("update", "b", 1)
