"""Consumers, serializers and data helpers shared by the ``streams`` tests.

Sync actions run in the database thread, not the test's thread. With SQLite's
in-memory test database the two threads use separate connections to one
shared-cache database, so a test's data must be committed to be seen by an
action (and a test transaction would lock the tables against it): tests that
run sync actions use ``@pytest.mark.django_db(transaction=True)``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.contrib.auth.models import User
from rest_framework import serializers
from rest_framework.exceptions import NotFound, Throttled, ValidationError

from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from tests.testapp.models_streams import StreamsAuthor, StreamsBook

#: The errors of a 403 and a 404 reply, as DRF words them.
FORBIDDEN = ["You do not have permission to perform this action."]
NOT_FOUND = ["Not found"]


class BookSerializer(serializers.ModelSerializer):
    class Meta:
        model = StreamsBook
        fields = ["id", "title", "slug", "uuid", "pages", "published", "author", "owner"]
        read_only_fields = ["uuid", "owner"]


def make_books(count: int = 5, **extra: Any) -> list[StreamsBook]:
    """``count`` books titled book0..; committed (call from a sync fixture)."""
    author = StreamsAuthor.objects.create(name="Ann")
    return [
        StreamsBook.objects.create(
            title=f"book{i}", slug=f"book-{i}", pages=100 * (i + 1), author=author, **extra
        )
        for i in range(count)
    ]


def make_user(username: str) -> User:
    return User.objects.create_user(username=username, password="x")


def titles(data: list[dict[str, Any]]) -> list[str]:
    return [item["title"] for item in data]


class EchoConsumer(AsyncAPIConsumer):
    @action()
    async def echo(self, **kwargs: Any) -> tuple[Any, int]:
        kwargs.pop("action")
        kwargs.pop("request_id")
        return kwargs, 200

    @action(name="renamed")
    async def some_method(self, **kwargs: Any) -> tuple[Any, int]:
        return "renamed", 200

    @action()
    def sync_action(self, value: int, **kwargs: Any) -> tuple[Any, int]:
        return value * 2, 201

    @action()
    async def needs_pk(self, pk: int, **kwargs: Any) -> tuple[Any, int]:
        return pk, 200

    @action()
    async def boom(self, **kwargs: Any) -> tuple[Any, int]:
        raise RuntimeError("secret internal detail")

    @action()
    async def invalid(self, **kwargs: Any) -> tuple[Any, int]:
        raise ValidationError({"name": ["This field is required."]})

    @action()
    async def missing(self, **kwargs: Any) -> tuple[Any, int]:
        raise NotFound()

    @action()
    async def throttled(self, **kwargs: Any) -> tuple[Any, int]:
        raise Throttled()

    @action()
    async def silent(self, **kwargs: Any) -> None:
        return None

    @action()
    async def slow(self, **kwargs: Any) -> tuple[Any, int]:
        await asyncio.sleep(0.05)
        return "slow", 200

    async def not_an_action(self, **kwargs: Any) -> tuple[Any, int]:
        return "leak", 200


def reply(data: Any, action: Any, status: int = 200, request_id: Any = None, errors: Any = None):
    return {
        "errors": errors or [],
        "data": data,
        "action": action,
        "response_status": status,
        "request_id": request_id,
    }
