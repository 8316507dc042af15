"""Consumer classes whose mixins cannot work together fail at definition, saying why."""

from __future__ import annotations

import pytest

from streams.composition import explain_bases
from streams.generics import GenericAsyncAPIConsumer
from streams.mixins import ListModelMixin, PaginatedModelListMixin, RetrieveModelMixin
from streams.observer.generics import ObserverModelInstanceMixin, ObserverModelListMixin
from tests.testapp.models_observer import ObsItem


def test_a_mixin_before_one_that_includes_it_names_both_and_the_fix():
    with pytest.raises(TypeError) as info:

        class BookConsumer(RetrieveModelMixin, ObserverModelInstanceMixin, GenericAsyncAPIConsumer):
            queryset = ObsItem.objects.all()

    message = str(info.value)
    assert "BookConsumer lists RetrieveModelMixin before ObserverModelInstanceMixin" in message
    assert "Drop RetrieveModelMixin from BookConsumer's bases" in message
    # The original MRO error stays attached for the curious.
    assert "(MRO)" in str(info.value.__cause__)


def test_the_same_for_the_plain_mixins():
    with pytest.raises(TypeError, match="lists ListModelMixin before PaginatedModelListMixin"):

        class Pages(ListModelMixin, PaginatedModelListMixin, GenericAsyncAPIConsumer):
            pass


def test_observer_mixins_after_the_consumer_class_are_refused():
    with pytest.raises(TypeError) as info:

        class Items(GenericAsyncAPIConsumer, ObserverModelListMixin):
            queryset = ObsItem.objects.all()

    message = str(info.value)
    assert "Items lists GenericAsyncAPIConsumer before ObserverModelListMixin" in message
    assert "class Items(ObserverModelInstanceMixin, GenericAsyncAPIConsumer)" in message


def test_the_documented_orders_work():
    class Items(
        ObserverModelInstanceMixin, ObserverModelListMixin, ListModelMixin, GenericAsyncAPIConsumer
    ):
        queryset = ObsItem.objects.all()

    assert {"retrieve", "subscribe_instance", "subscribe_list", "list"} <= set(Items.actions)


def test_an_unrelated_mro_error_gets_the_general_advice():
    class A:
        pass

    class B(A):
        pass

    # A before B, B includes A: the first rule. Two unrelated orders: the general one.
    assert "lists A before B" in explain_bases("C", (A, B))
    assert "List the mixins first" in explain_bases("C", (B, GenericAsyncAPIConsumer))
