"""Serializers both stacks use for retrieve, patch and the subscription pushes."""

from rest_framework import serializers

from benchmarks.project.models import Author, Book


class AuthorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Author
        fields = ["id", "name", "bio"]


class BookSerializer(serializers.ModelSerializer):
    class Meta:
        model = Book
        fields = ["id", "title", "author", "tags", "pages", "published", "summary"]
