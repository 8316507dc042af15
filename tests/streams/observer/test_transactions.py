"""After-commit delivery: merged per object, rollbacks and savepoints honoured."""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from streams.observer import transactions
from streams.observer.transactions import CREATE, DELETE, UPDATE, Change
from tests.streams.observer.support import call, db, push
from tests.testapp.models_observer import ObsItem

pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


async def watch(clients, *items, list_filter=None):
    client = await clients()
    for item in items:
        await call(
            client, "items", {"action": "subscribe_instance", "pk": item.pk, "request_id": item.pk}
        )
    if list_filter is not None:
        await call(client, "items", {"action": "subscribe_list", "request_id": "L", **list_filter})
    return client


async def test_nothing_until_commit_then_one_message_with_final_state(clients):
    item = await db(ObsItem.objects.create)(name="t")
    client = await watch(clients, item)
    frames_inside: list[int] = []

    def work():
        with transaction.atomic():
            for count in range(1, 6):
                item.count = count
                item.save()
            # Nothing may be sent before the commit (give it time to leak, if it would).
            time.sleep(0.1)
            frames_inside.append(client._output.qsize())
            transaction.on_commit(lambda: frames_inside.append(-1))

    await db(work)()
    got = await client.receive_from("items", request_id=item.pk)
    assert got["action"] == "update" and got["data"]["count"] == 5
    await client.assert_no_frames(0.15)
    assert frames_inside == [0, -1]


async def test_rollback_sends_nothing(clients):
    item = await db(ObsItem.objects.create)(name="t")
    client = await watch(clients, item, list_filter={})

    def work():
        with transaction.atomic():
            item.count = 7
            item.save()
            ObsItem.objects.create(name="never")
            raise Boom

    with pytest.raises(Boom):
        await db(work)()
    await client.assert_no_frames(0.15)


async def test_rolled_back_savepoint_dropped_rest_sent(clients):
    a = await db(ObsItem.objects.create)(name="a")
    b = await db(ObsItem.objects.create)(name="b")
    client = await watch(clients, a, b)

    def work():
        with transaction.atomic():
            a.count = 1
            a.save()
            try:
                with transaction.atomic():  # savepoint
                    b.count = 99
                    b.save()
                    a.count = 99
                    a.save()
                    raise Boom
            except Boom:
                pass
            with transaction.atomic():  # a released savepoint keeps its events
                a.name = "a2"
                ObsItem.objects.filter(pk=a.pk).update(name="a2")

    await db(work)()
    got = await client.receive_from("items", request_id=a.pk)
    # a's final committed state: count 1 (the 99 was rolled back), name a2.
    assert got == push(
        "update", {"id": a.pk, "name": "a2", "count": 1, "color": "red", "owner": None}, 200, a.pk
    )
    await client.assert_no_frames(0.15)  # nothing for b


async def test_rolled_back_savepoint_at_the_end(clients):
    a = await db(ObsItem.objects.create)(name="a")
    client = await watch(clients, a)

    def work():
        with transaction.atomic():
            a.count = 1
            a.save()
            try:
                with transaction.atomic():
                    a.count = 2
                    a.save()
                    raise Boom
            except Boom:
                pass

    await db(work)()
    got = await client.receive_from("items", request_id=a.pk)
    assert got["data"]["count"] == 1
    await client.assert_no_frames(0.1)


async def test_created_and_deleted_in_one_transaction_sends_nothing(clients):
    client = await watch(clients, list_filter={})

    def work():
        with transaction.atomic():
            ObsItem.objects.create(name="ghost").delete()

    await db(work)()
    await client.assert_no_frames(0.15)


async def test_created_then_updated_is_one_create(clients):
    client = await watch(clients, list_filter={})

    def work():
        with transaction.atomic():
            item = ObsItem.objects.create(name="new")
            item.count = 3
            item.save()

    await db(work)()
    got = await client.receive_from("items", request_id="L")
    assert got["action"] == "create" and got["data"]["count"] == 3
    await client.assert_no_frames(0.1)


async def test_a_new_transaction_after_a_rollback_starts_clean(clients):
    item = await db(ObsItem.objects.create)(name="t")
    client = await watch(clients, item)

    def rolled_back():
        with transaction.atomic():
            item.count = 50
            item.save()
            transaction.set_rollback(True)

    def committed():
        with transaction.atomic():
            ObsItem.objects.filter(pk=item.pk).update(name="second")

    await db(rolled_back)()
    await db(committed)()
    got = await client.receive_from("items", request_id=item.pk)
    assert got["data"]["name"] == "second" and got["data"]["count"] == 0
    await client.assert_no_frames(0.1)


def test_merge_rules_without_a_database():
    """``record`` outside a transaction emits at once; a failing emit is logged, not raised."""
    emitted = []
    item = ObsItem(pk=1, name="x")
    transactions.record("default", "k", Change(UPDATE, item), emitted.extend)
    assert [(c.first.action, c.last.action) for c in emitted] == [(UPDATE, UPDATE)]

    def broken(changes):
        raise RuntimeError("emit failed")

    transactions.record("default", "k", Change(DELETE, item), broken)  # must not raise
    merged = transactions.MergedChange(Change(CREATE, item), Change(DELETE, item))
    assert merged.vanished and merged.created


def test_a_rollback_frees_the_recorded_changes_at_once(transactional_db):
    """The pending changes (copies of every written object) die with the rollback,
    not at the connection's next observed write."""
    import gc

    gc.disable()  # freed by reference counting alone, without the collector
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            ObsItem.objects.create(name="gone")
            assert transactions._live_pending(transaction.get_connection()) is not None
            raise RuntimeError("roll back")
        assert transactions._live_pending(transaction.get_connection()) is None
    finally:
        gc.enable()
