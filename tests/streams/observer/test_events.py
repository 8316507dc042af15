"""The event envelope: field values survive the channel layer and rebuild the object."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid

import msgpack
import pytest
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.utils.serializer_helpers import ReturnDict

from streams.observer import events
from streams.observer.events import (
    encode_fields,
    instance_from_event,
    jsonable_pk,
    make_envelope,
    new_event_id,
    pk_from_event,
    to_jsonable,
)
from tests.testapp.models_observer import ObsItem, ObsUuidItem


def test_fields_round_trip_through_msgpack():
    item = ObsItem(
        pk=3,
        name="x",
        count=2,
        price=decimal.Decimal("12.50"),
        created=datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        extra={"nested": [1, {"a": None}]},
        owner_id=None,
    )
    envelope = make_envelope(item)
    carried = msgpack.unpackb(msgpack.packb(envelope))  # what channels_redis does
    rebuilt = instance_from_event(carried)
    assert isinstance(rebuilt, ObsItem)
    assert rebuilt.price == decimal.Decimal("12.50")
    assert rebuilt.created == item.created
    assert rebuilt.extra == item.extra
    assert (rebuilt.pk, rebuilt.name, rebuilt.count, rebuilt.owner_id) == (3, "x", 2, None)


def test_uuid_pk():
    item = ObsUuidItem(name="u")
    envelope = make_envelope(item)
    assert envelope["pk"] == str(item.pk)
    assert pk_from_event(envelope) == item.pk
    assert isinstance(instance_from_event(envelope).pk, uuid.UUID)
    assert jsonable_pk(7) == 7 and jsonable_pk(None) is None


@pytest.mark.django_db
def test_deferred_fields_are_left_out_not_fetched(django_assert_num_queries):
    ObsItem.objects.create(name="d", count=4)
    item = ObsItem.objects.only("name").get()
    with django_assert_num_queries(0):
        fields = encode_fields(item)
    assert "count" not in fields and fields["name"] == "d"


def test_bad_value_is_left_deferred(caplog):
    event = {
        "id": "x",
        "model": "testapp.obsitem",
        "pk": 1,
        "fields": {"id": 1, "price": "not a number"},
    }
    rebuilt = instance_from_event(event)
    assert "price" not in rebuilt.__dict__
    assert "did not convert back" in caplog.text


@pytest.mark.parametrize(
    "value",
    [
        {"pk": 1},
        {"a": [1, 2.5, None, True, "x"], "b": {"c": (1, 2)}},
        [{"k": "v"}, ("t", 1)],
        {"when": datetime.date(2024, 1, 2), "price": decimal.Decimal("1.50")},
        {1: "int key"},
        {"id": uuid.UUID(int=5)},
        "plain",
        None,
    ],
)
def test_to_jsonable_equals_a_json_round_trip(value):
    expected = json.loads(json.dumps(value, cls=JSONEncoder))
    result = to_jsonable(value)
    assert result == expected and type(result) is type(expected)


def test_to_jsonable_gives_plain_dicts_for_serializer_data():
    data = ReturnDict({"id": 1, "tags": ["a"]}, serializer=None)
    result = to_jsonable(data)
    assert type(result) is dict and result == {"id": 1, "tags": ["a"]}
    assert result is not data and result["tags"] is not data["tags"]


def test_event_ids_are_unique_and_a_forked_child_draws_a_new_prefix():
    ids = {new_event_id() for _ in range(1000)}
    assert len(ids) == 1000
    before = new_event_id()
    events._reseed_ids()  # what os.register_at_fork runs in a child
    after = new_event_id()
    assert before[:16] != after[:16]


def test_the_rebuilt_instance_belongs_to_the_writers_database():
    item = ObsItem(pk=5, name="elsewhere")
    item._state.db = "replica"
    rebuilt = instance_from_event(msgpack.unpackb(msgpack.packb(make_envelope(item))))
    assert rebuilt._state.db == "replica"
    unsaved = ObsItem(pk=6, name="never saved")  # _state.db is None
    assert instance_from_event(make_envelope(unsaved))._state.db == "default"
