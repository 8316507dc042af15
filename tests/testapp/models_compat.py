"""Models of the originals' documented examples (tests/compat/).

DCRF's tutorial (chat rooms) and hypermediachannels' test models, with the
names prefixed so they do not clash with the other areas' models. The tutorial
swaps in its own ``User(AbstractUser)``; the test project keeps Django's.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

__all__ = ["CompatMessage", "CompatProfile", "CompatRoom", "CompatTeam", "CompatUser"]


class CompatRoom(models.Model):
    name = models.CharField(max_length=255, null=False, blank=False, unique=True)
    host = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="compat_rooms", null=True
    )
    current_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="compat_current_rooms", blank=True
    )

    class Meta:
        app_label = "testapp"


class CompatMessage(models.Model):
    room = models.ForeignKey(CompatRoom, on_delete=models.CASCADE, related_name="messages")
    text = models.TextField(max_length=500)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="compat_messages"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "testapp"


class CompatUser(models.Model):
    username = models.CharField(max_length=100)

    class Meta:
        app_label = "testapp"


class CompatTeam(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        app_label = "testapp"


class CompatProfile(models.Model):
    user = models.ForeignKey(CompatUser, on_delete=models.CASCADE, related_name="profile")
    team = models.ForeignKey(CompatTeam, on_delete=models.CASCADE, related_name="profiles")
    friends = models.ManyToManyField("self", blank=True, symmetrical=False, related_name="friended")

    class Meta:
        app_label = "testapp"
