"""streams.observer.membership: compiled scopes, batched answers, one hop per event."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from django.db.models import Count, Q

from streams.observer import membership
from streams.observer.events import make_envelope
from tests.streams.observer.support import db
from tests.testapp.models_observer import ObsItem, ObsTag


def test_the_whole_table_is_answered_without_a_query():
    """No ``django_db`` mark: a query would raise."""
    scope = membership.scope_of(ObsItem.objects.all())
    assert scope.everything
    # Ordering and select_related do not restrict the set either.
    assert membership.scope_of(ObsItem.objects.order_by("-name").select_related("owner")).everything
    assert membership.answer(ObsItem, 1, [scope]) == {scope.key: True}


def test_equal_querysets_share_a_key_different_values_do_not():
    red = membership.scope_of(ObsItem.objects.filter(color="red"))
    again = membership.scope_of(ObsItem.objects.filter(color="red").order_by("name"))
    blue = membership.scope_of(ObsItem.objects.filter(color="blue"))
    assert red.kind == membership.SQL
    assert red.key == again.key  # ordering is dropped: same set, same answers
    assert red.key != blue.key
    # Typed parameters: 1 and True (or "1") are never conflated.
    assert len({membership._params_key([v]) for v in (1, True, "1", 1.0)}) == 4
    # A user id alone is not the key: the same user with another condition differs.
    mine = membership.scope_of(ObsItem.objects.filter(owner_id=7))
    mine_red = membership.scope_of(ObsItem.objects.filter(owner_id=7, color="red"))
    assert mine.key != mine_red.key


def test_parameters_that_cannot_be_compared_share_nothing():
    class Opaque:
        def __conform__(self, protocol: Any) -> Any:  # pragma: no cover - never sent
            return None

    first = membership.scope_of(ObsItem.objects.filter(color="x"))
    assert membership._params_key([Opaque()]) is None
    assert membership._params_key([["a", 1], ("b",)]) == (
        (("str", "a"), ("int", 1)),
        (("str", "b"),),
    )
    assert first.key == membership.scope_of(ObsItem.objects.filter(color="x")).key


def test_empty_querysets_are_never_members():
    """No ``django_db`` mark: a query would raise."""
    for queryset in (ObsItem.objects.none(), ObsItem.objects.filter(pk__in=[])):
        scope = membership.scope_of(queryset)
        assert scope.kind == membership.NONE
        assert membership.answer(ObsItem, 1, [scope]) == {scope.key: False}


@pytest.mark.django_db
def test_answers_agree_with_exists_in_one_query_per_batch(django_assert_num_queries):
    tag = ObsTag.objects.create(name="t")
    items = [
        ObsItem.objects.create(name=f"n{i}", color=("red", "blue")[i % 2], count=i)
        for i in range(6)
    ]
    items[0].tags.add(tag)
    items[3].tags.add(tag)
    querysets = [
        ObsItem.objects.filter(color="red"),
        ObsItem.objects.filter(Q(color="blue") | Q(count__gte=4)),
        ObsItem.objects.order_by("-count")[:2],  # a slice keeps its ordering
        ObsItem.objects.filter(tags__name="t").distinct(),
        ObsItem.objects.annotate(n=Count("tags")).filter(n__gte=1),
        ObsItem.objects.filter(count__in=ObsItem.objects.filter(color="blue").values("count")),
        ObsItem.objects.exclude(name__startswith="n"),
    ]
    scopes = [membership.scope_of(queryset) for queryset in querysets]
    assert all(scope.kind == membership.SQL for scope in scopes)
    for item in items:
        with django_assert_num_queries(1):
            answers = membership.answer(ObsItem, item.pk, scopes)
        expected = [item.pk in set(q.values_list("pk", flat=True)) for q in querysets]
        assert [answers[scope.key] for scope in scopes] == expected, item.name


@pytest.mark.django_db
def test_batches_hold_at_most_batch_size_scopes(django_assert_num_queries):
    item = ObsItem.objects.create(name="n7", count=7)
    scopes = [membership.scope_of(ObsItem.objects.filter(count=i)) for i in range(250)]
    with django_assert_num_queries(3):
        answers = membership.answer(ObsItem, item.pk, scopes)
    assert [key for key, inside in answers.items() if inside] == [scopes[7].key]


class BrokenQuerySet(type(ObsItem.objects.all())):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(ObsItem)

    def exists(self) -> bool:
        raise RuntimeError("boom")


@pytest.mark.django_db
def test_a_scope_that_cannot_be_batched_is_asked_alone(caplog):
    item = ObsItem.objects.create(name="u", color="red")
    union = ObsItem.objects.filter(color="red").union(ObsItem.objects.filter(color="blue"))
    odd = membership.scope_of(union)
    red = membership.scope_of(ObsItem.objects.filter(color="red"))
    assert odd.kind == membership.ORM
    with caplog.at_level(logging.ERROR, logger="streams.observer.membership"):
        answers = membership.answer(ObsItem, item.pk, [odd, red])
    # A union cannot be filtered: its pks are read instead; the other scope is batched.
    assert answers == {odd.key: True, red.key: True}
    broken = membership.Scope(membership.ORM, object(), "default", queryset=BrokenQuerySet())
    with caplog.at_level(logging.ERROR, logger="streams.observer.membership"):
        answers = membership.answer(ObsItem, item.pk, [broken, red])
    # A scope whose query fails is unknown (logged); the others are answered.
    assert answers == {broken.key: None, red.key: True}
    assert "could not tell whether" in caplog.text


# ---------------------------------------------------------------- contains
@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many scopes each batch asked the database about."""
    calls: list[int] = []
    real = membership.answer

    def counting(model: Any, pk: Any, scopes: Any) -> Any:
        calls.append(len(scopes))
        return real(model, pk, scopes)

    monkeypatch.setattr(membership, "answer", counting)
    membership.clear()
    return calls


@pytest.mark.django_db(transaction=True)
async def test_one_batch_per_event_whatever_the_number_of_subscribers(spy):
    item = await db(ObsItem.objects.create)(name="x", color="red", count=3)
    event = make_envelope(item)
    colors = ["red", "blue", "green", "red", "blue"]
    scopes = await db(
        lambda: [membership.scope_of(ObsItem.objects.filter(color=c)) for c in colors]
    )()
    # 500 subscribers, each asking about its own copy of one of five filters.
    asked = [scopes[i % 5 : i % 5 + 1] for i in range(500)]
    results = await asyncio.gather(*(membership.contains(event, s) for s in asked))
    assert spy == [3]  # one hop, three distinct filters
    assert [r[0] for r in results[:5]] == [True, False, False, True, False]
    # Later subscribers of the same event reuse the answers.
    assert await membership.contains(event, scopes) == [True, False, False, True, False]
    assert spy == [3]
    # A new event asks again.
    await db(ObsItem.objects.filter(pk=item.pk).update)(color="blue")
    item.color = "blue"
    assert await membership.contains(make_envelope(item), scopes) == [
        False,
        True,
        False,
        False,
        True,
    ]
    assert spy == [3, 3]


@pytest.mark.django_db(transaction=True)
async def test_a_failed_batch_is_asked_again_by_the_next_caller(monkeypatch):
    item = await db(ObsItem.objects.create)(name="f", color="red")
    event = make_envelope(item)
    scope = await db(membership.scope_of)(ObsItem.objects.filter(color="red"))
    real = membership.answer
    failures = [RuntimeError("database went away")]

    def flaky(model: Any, pk: Any, scopes: Any) -> Any:
        if failures:
            raise failures.pop()
        return real(model, pk, scopes)

    monkeypatch.setattr(membership, "answer", flaky)
    membership.clear()
    with pytest.raises(RuntimeError, match="went away"):
        await membership.contains(event, [scope])
    assert await membership.contains(event, [scope]) == [True]


@pytest.mark.django_db(transaction=True)
async def test_a_cancelled_caller_does_not_cancel_the_batch(spy):
    item = await db(ObsItem.objects.create)(name="c", color="red")
    event = make_envelope(item)
    scope = await db(membership.scope_of)(ObsItem.objects.filter(color="red"))
    first = asyncio.ensure_future(membership.contains(event, [scope]))
    second = asyncio.ensure_future(membership.contains(event, [scope]))
    await asyncio.sleep(0)
    first.cancel()
    assert await second == [True]
    assert first.cancelled()
    assert spy == [1]


@pytest.mark.django_db(transaction=True)
async def test_the_membership_thread_keeps_its_connection_until_idle(monkeypatch):
    """A connection per batch cost more than the query: it is kept between
    batches, and closed once no batch came for IDLE_SECONDS. (Django keeps
    in-memory SQLite connections open on close(), so the close is recorded.)"""
    import threading

    from django.db import connection

    monkeypatch.setattr(membership, "IDLE_SECONDS", 0.3)
    closed_in: list[str] = []
    monkeypatch.setattr(
        membership, "_close_connections", lambda: closed_in.append(threading.current_thread().name)
    )
    item = await db(ObsItem.objects.create)(name="k", color="red")
    scope = await db(membership.scope_of)(ObsItem.objects.filter(color="red"))
    membership.clear()

    def is_open() -> bool:
        return connection.connection is not None

    for _ in range(2):
        assert await membership.contains(make_envelope(item), [scope]) == [True]
        assert await asyncio.to_thread(membership.call_in_membership_thread, is_open)
        await asyncio.sleep(0.1)
    assert closed_in == []  # batches 0.1 s apart: never idle for 0.3 s
    await asyncio.sleep(0.6)
    assert len(closed_in) == 1
    assert closed_in[0].startswith("streams-membership")
