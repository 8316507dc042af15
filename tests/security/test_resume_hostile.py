"""Hostile ``resume`` values: never a 500, never a subscription the client may not have.

A resume names groups by digest and positions by a random epoch; nothing in
it is trusted. Malformed values are a 400; a forged or stale one for an
object the client cannot see ends as the ordinary subscribe does (404), and
joins nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from rest_framework import serializers

from gateway import Gateway
from streams.generics import GenericAsyncAPIConsumer
from streams.observer import history
from streams.observer.generics import ObserverModelInstanceMixin, ObserverModelListMixin
from tests.streams.observer.support import call, db, open_client
from tests.testapp.models_observer import ObsJournalEntry

pytestmark = pytest.mark.django_db(transaction=True)


class EntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = ObsJournalEntry
        fields = ["id", "title"]


class OwnEntriesConsumer(
    ObserverModelInstanceMixin, ObserverModelListMixin, GenericAsyncAPIConsumer
):
    queryset = ObsJournalEntry.objects.all()
    serializer_class = EntrySerializer
    observer_history = True

    def get_queryset(self, **kwargs: Any) -> Any:
        return ObsJournalEntry.objects.filter(owner=self.scope["user"])


APP = Gateway.as_asgi(streams={"own": OwnEntriesConsumer})


@pytest.fixture(autouse=True)
async def empty(layer: Any) -> AsyncIterator[None]:
    # On channels_redis the history lives under the layer's prefix, which the
    # layer fixture flushes before and after (the production test stack).
    store = history.store_for(layer)
    assert isinstance(store, history.MemoryHistory | history.RedisHistory)
    if isinstance(store, history.MemoryHistory):
        store.clear()
    yield
    if isinstance(store, history.MemoryHistory):
        store.clear()


async def user(name: str) -> User:
    return await db(User.objects.create)(username=f"{name}-{uuid.uuid4().hex[:8]}")


@pytest.mark.parametrize(
    "resume",
    [
        "x" * 100_000,
        {"g": ["e", 2**80]},
        {"g": ["e", -(2**80)]},
        {"g": [None, 1]},
        {"g": ["e", None]},
        {"g": {"epoch": "e", "offset": 1}},
        {str(n): ["e", n] for n in range(1000)},
        [{"g": ["e", 1]}],
        123,
    ],
)
@pytest.mark.parametrize("action", ["subscribe_instance", "subscribe_list"])
async def test_malformed_resume_is_400_and_joins_nothing(action, resume):
    owner = await user("owner")
    entry = await db(ObsJournalEntry.objects.create)(title="t", owner=owner)
    client = await open_client(APP, user=owner)
    try:
        reply = await call(
            client, "own", {"action": action, "pk": entry.pk, "request_id": 1, "resume": resume}
        )
        assert reply["response_status"] == 400, reply
        assert "resume" in reply["errors"][0]
        assert get_channel_layer().groups == {}
    finally:
        await client.disconnect()


async def test_a_forged_resume_for_someone_elses_object_is_404():
    """The digest of a group can be computed by anyone; the epoch cannot be
    guessed, and a wrong one falls back to reading the object, which the
    client's queryset does not hold."""
    owner, stranger = await user("owner"), await user("stranger")
    entry = await db(ObsJournalEntry.objects.create)(title="private", owner=owner)
    observer = OwnEntriesConsumer.handle_instance_change
    (group,) = observer.group_names_for_consumer(None, pk=entry.pk)
    forged = {history.group_tag(group): ["0" * 12, 0]}
    client = await open_client(APP, user=stranger)
    try:
        reply = await call(
            client,
            "own",
            {"action": "subscribe_instance", "pk": entry.pk, "request_id": 1, "resume": forged},
        )
        assert reply["response_status"] == 404, reply
        assert reply["data"] is None
        assert get_channel_layer().groups == {}
        await db(ObsJournalEntry.objects.filter(pk=entry.pk).update)(title="still private")
        await client.assert_no_frames()
    finally:
        await client.disconnect()


async def test_a_resume_for_a_pk_that_cannot_exist_is_404():
    owner = await user("owner")
    client = await open_client(APP, user=owner)
    try:
        for pk in ("abc", None, {}, 2**80):
            reply = await call(
                client,
                "own",
                {"action": "subscribe_instance", "pk": pk, "request_id": 1, "resume": {}},
            )
            assert reply["response_status"] == 404, (pk, reply)
        assert get_channel_layer().groups == {}
    finally:
        await client.disconnect()
