"""Models for the observer tests (``tests/streams/observer``, ``tests/integration``)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from streams.observer import ObservableManager


class ObsSchool(models.Model):
    name = models.CharField(max_length=50)


class ObsClassroom(models.Model):
    """DCRF's classroom/school example: a classroom moves between schools."""

    name = models.CharField(max_length=50)
    school = models.ForeignKey(ObsSchool, on_delete=models.CASCADE, related_name="classrooms")

    objects = ObservableManager()


class ObsTag(models.Model):
    name = models.CharField(max_length=50)


class ObsItem(models.Model):
    name = models.CharField(max_length=50)
    count = models.IntegerField(default=0)
    color = models.CharField(max_length=20, default="red")
    price = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    created = models.DateTimeField(null=True, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    tags = models.ManyToManyField(ObsTag, blank=True, related_name="items")

    objects = ObservableManager()


class ObsUuidItem(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=50)

    objects = ObservableManager()


class ObsLoadItem(models.Model):
    """Only for the load-cost smoke test: observed, never subscribed."""

    name = models.CharField(max_length=50)
    value = models.IntegerField(default=0)


class ObsPlainItem(models.Model):
    """The same shape, never observed: the baseline of the load-cost smoke test."""

    name = models.CharField(max_length=50)
    value = models.IntegerField(default=0)


class ObsJournalEntry(models.Model):
    """Observed with a history (tests/streams/observer/test_history.py): its
    own model, so other tests' "nothing is sent" checks stay true."""

    title = models.CharField(max_length=50)
    color = models.CharField(max_length=20, default="red")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    objects = ObservableManager()
