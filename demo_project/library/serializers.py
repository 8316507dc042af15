"""Hypermedia serializers: every relation is a link the page can send back.

A link is a frame, ``{"stream": S, "payload": {"action": "retrieve", "pk": N}}``
for a single object or ``{"stream": S, "payload": {"action": "list", ...filters}}``
for a set; the stream is looked up in the connection's route table (the
demoplexer), so these serializers name no stream themselves.

Lists: hypermedia's default for ``many=True`` is a list of links (one per
object, as hypermediachannels did). The demo's lists carry whole objects
instead (``list_serializer_class = ListSerializer``), each with its own
``@id`` link, so the page can show titles and a list subscription's events
(whole objects) replace list items one for one.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework.serializers import ListSerializer

from hypermedia.serializers import HypermediaModelSerializer
from library.models import Author, Book, Review, Tag


class AuthorSerializer(HypermediaModelSerializer):
    class Meta:
        list_serializer_class = ListSerializer
        model = Author
        # "books" is the reverse FK: a list link {"action": "list", "author": pk}.
        fields = ["@id", "id", "name", "born", "bio", "books"]
        read_only_fields = ["books"]


class TagSerializer(HypermediaModelSerializer):
    class Meta:
        list_serializer_class = ListSerializer
        model = Tag
        fields = ["@id", "id", "name", "books"]
        read_only_fields = ["books"]


class BookSerializer(HypermediaModelSerializer):
    class Meta:
        list_serializer_class = ListSerializer
        model = Book
        fields = ["@id", "id", "title", "published", "summary", "author", "tags", "reviews"]
        read_only_fields = ["reviews"]


class ReviewSerializer(HypermediaModelSerializer):
    class Meta:
        list_serializer_class = ListSerializer
        model = Review
        fields = ["@id", "id", "rating", "text", "book", "user", "created", "updated"]
        # The author of a review is whoever is signed in (see ReviewConsumer).
        read_only_fields = ["user", "created", "updated"]


class UserSerializer(HypermediaModelSerializer):
    class Meta:
        list_serializer_class = ListSerializer
        model = get_user_model()
        # No e-mail or names: anyone may browse users.
        fields = ["@id", "id", "username", "reviews"]
        read_only_fields = fields
