"""Models for the ``streams`` tests (generics, mixins, pagination, filters)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class StreamsAuthor(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        app_label = "testapp"
        ordering = ["pk"]


class StreamsBook(models.Model):
    title = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True)
    pages = models.PositiveIntegerField(default=100)
    published = models.DateField(null=True, blank=True)
    author = models.ForeignKey(
        StreamsAuthor, null=True, blank=True, on_delete=models.SET_NULL, related_name="books"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )

    class Meta:
        app_label = "testapp"
        ordering = ["pk"]


class StreamsAuditLog(models.Model):
    """Written by hooks in tests, to show that a failed write leaves nothing behind."""

    message = models.CharField(max_length=200)

    class Meta:
        app_label = "testapp"
