"""Models for the permission and ``view_as_consumer`` tests."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PermNote(models.Model):
    title = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )

    class Meta:
        app_label = "testapp"
        ordering = ["pk"]
