"""streams.fastpath: the plan gives exactly DRF's representation, faster, or steps aside."""

from __future__ import annotations

import datetime
import decimal
import gc
import weakref
from typing import Any

import pytest
from django.test import override_settings
from rest_framework import serializers

from streams.fastpath import plan_for, represent, serializer_data
from tests.testapp.models_fastpath import FastAuthor, FastItem, FastSpecialItem, FastTag

pytestmark = pytest.mark.django_db


class ItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = FastItem
        fields = "__all__"


class MixedSerializer(serializers.ModelSerializer):
    """Fields the plan must leave to DRF, between fields it reads itself."""

    shout = serializers.CharField(read_only=True)  # a property, not a column
    upper = serializers.SerializerMethodField()
    author_code = serializers.CharField(source="author.code", default=None, read_only=True)
    author_as_code = serializers.PrimaryKeyRelatedField(
        source="author", pk_field=serializers.CharField(), read_only=True
    )
    tag_names = serializers.SlugRelatedField(
        source="tags", many=True, slug_field="name", read_only=True
    )
    day_text = serializers.DateField(source="day", format="%d/%m/%Y", read_only=True)
    email_like = serializers.EmailField(source="title", read_only=True)

    class Meta:
        model = FastItem
        fields = [
            "id",
            "shout",
            "title",
            "upper",
            "author_code",
            "author",
            "author_as_code",
            "tags",
            "tag_names",
            "day",
            "day_text",
            "email_like",
            "count",
        ]

    def get_upper(self, obj: FastItem) -> str:
        return obj.title.upper()


class WriteOnlySerializer(serializers.ModelSerializer):
    class Meta:
        model = FastItem
        fields = ["id", "title", "body"]
        extra_kwargs = {"body": {"write_only": True}}


class ColumnsSerializer(serializers.ModelSerializer):
    """Columns, a foreign key's pk and many-to-many pks: all read by the plan."""

    class Meta:
        model = FastItem
        fields = ["id", "title", "count", "day", "author", "tags"]


class OwnRepresentation(ItemSerializer):
    def to_representation(self, instance: Any) -> Any:
        return {"mine": instance.pk}


@pytest.fixture
def items() -> list[FastItem]:
    ada = FastAuthor.objects.create(code="ada")
    tags = [FastTag.objects.create(name=f"t{n}") for n in range(3)]
    full = FastItem.objects.create(
        title="Full",
        body="text",
        count=-3,
        big=2**50,
        small=7,
        flag=True,
        day=datetime.date(2024, 2, 29),
        stamp=datetime.datetime(2024, 1, 1, 12, tzinfo=datetime.UTC),
        price=decimal.Decimal("12.50"),
        nickname="full",
        author=ada,
        author_by_code=ada,
    )
    full.tags.set(tags[:2])
    empty = FastItem.objects.create(title="Empty")
    return [full, empty]


def drf(serializer: serializers.BaseSerializer[Any], instance: Any) -> list[tuple[str, Any]]:
    return list(serializer.to_representation(instance).items())


def fast(serializer: serializers.BaseSerializer[Any], instance: Any) -> list[tuple[str, Any]]:
    return list(represent(serializer, instance).items())


@pytest.mark.parametrize("serializer_class", [ItemSerializer, MixedSerializer])
def test_same_keys_order_and_values_as_drf(items, serializer_class):
    serializer = serializer_class()
    assert plan_for(serializer) is not None
    for item in items:
        assert fast(serializer, item) == drf(serializer, item)
    for item in FastItem.objects.prefetch_related("tags").select_related("author"):
        assert fast(serializer, item) == drf(serializer, item)


def test_values_are_of_drf_types(items):
    serializer = ItemSerializer()
    data = represent(serializer, FastItem.objects.get(pk=items[0].pk))
    assert data["day"] == "2024-02-29"
    assert data["author"] == items[0].author_id
    assert data["author_by_code"] == "ada"
    assert sorted(data["tags"]) == sorted(items[0].tags.values_list("pk", flat=True))
    assert data["price"] == "12.50"
    assert data["nickname"] == "full"
    empty = represent(serializer, items[1])
    assert (empty["day"], empty["author"], empty["nickname"], empty["tags"]) == (
        None,
        None,
        None,
        [],
    )


def test_write_only_fields_stay_out(items):
    serializer = WriteOnlySerializer()
    assert fast(serializer, items[0]) == drf(serializer, items[0])
    assert "body" not in represent(serializer, items[0])


def test_an_unsaved_instance_has_no_tags(items):
    serializer = ItemSerializer()
    unsaved = FastItem(title="new")
    assert fast(serializer, unsaved) == drf(serializer, unsaved)


def test_prefetched_tags_cost_no_query(items, django_assert_num_queries):
    serializer = ColumnsSerializer()
    assert plan_for(serializer).fast == 6
    item = FastItem.objects.prefetch_related("tags").get(pk=items[0].pk)
    with django_assert_num_queries(0):
        assert len(represent(serializer, item)["tags"]) == 2


def test_tags_without_prefetch_are_queried_as_drf_does(items, django_assert_num_queries):
    serializer = ColumnsSerializer()
    item = FastItem.objects.get(pk=items[0].pk)
    with django_assert_num_queries(1):
        assert len(represent(serializer, item)["tags"]) == 2


@override_settings(REST_FRAMEWORK={"COERCE_BIGINT_TO_STRING": True, "DATE_FORMAT": "%Y/%m/%d"})
def test_settings_that_change_the_output_are_honoured(items):
    serializer = ItemSerializer()
    data = represent(serializer, items[0])
    assert data["big"] == str(2**50)
    assert data["day"] == "2024/02/29"
    assert fast(serializer, items[0]) == drf(serializer, items[0])


def test_a_subclass_instance_gets_drf_path(items):
    special = FastSpecialItem.objects.create(title="special", count=2)
    serializer = ItemSerializer()
    assert fast(serializer, special) == drf(serializer, special)


def test_overridden_to_representation_has_no_plan(items):
    serializer = OwnRepresentation()
    assert plan_for(serializer) is None
    assert represent(serializer, items[0]) == {"mine": items[0].pk}


def test_a_serializer_without_model_has_no_plan():
    class Plain(serializers.Serializer[Any]):
        title = serializers.CharField()

    assert plan_for(Plain()) is None


def test_list_data_equals_drf(items):
    queryset = FastItem.objects.order_by("pk").prefetch_related("tags")
    ours = serializer_data(ItemSerializer(queryset, many=True))
    theirs = ItemSerializer(queryset, many=True).data
    assert [list(row.items()) for row in ours] == [list(row.items()) for row in theirs]
    assert ours.serializer is not None


def test_list_of_a_manager_equals_drf(items):
    tag = FastTag.objects.get(name="t0")

    class TagSerializer(serializers.ModelSerializer):
        class Meta:
            model = FastTag
            fields = ["id", "name", "items"]

    ours = serializer_data(TagSerializer(FastTag.objects, many=True))
    assert ours == TagSerializer(FastTag.objects, many=True).data
    assert any(row["id"] == tag.pk for row in ours)


def test_list_serializer_holding_input_is_left_to_drf():
    serializer = ItemSerializer(data=[{"title": "x"}], many=True)
    assert serializer.is_valid(), serializer.errors
    assert serializer_data(serializer) == serializer.data


def test_a_plan_dies_with_its_serializer(items):
    # A plan holds its fields' bound methods (and so the serializer): kept in a
    # table keyed by serializer it kept every list serializer, and its rows, alive.
    serializer = ItemSerializer(FastItem.objects.all(), many=True)
    assert len(serializer_data(serializer)) == 2
    assert plan_for(serializer.child) is plan_for(serializer.child) is not None
    alive = [weakref.ref(serializer), weakref.ref(serializer.child)]
    del serializer
    gc.collect()
    assert [ref() for ref in alive] == [None, None]


def test_the_plan_is_made_once_per_serializer(items):
    serializer = ItemSerializer()
    first = plan_for(serializer)
    assert first is not None and plan_for(serializer) is first
    assert plan_for(ItemSerializer()) is not first
