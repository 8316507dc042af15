"""Serializers and data helpers shared by the ``streams`` generics/mixins tests.

Sync actions run in the database thread, not the test's thread. With SQLite's
in-memory test database the two threads use separate connections to one
shared-cache database, so a test's data must be committed to be seen by an
action (and a test transaction would lock the tables against it): tests that
run sync actions use ``@pytest.mark.django_db(transaction=True)``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from rest_framework import serializers

from tests.testapp.models_streams import StreamsAuthor, StreamsBook


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
