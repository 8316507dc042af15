"""Models for the ``hypermedia`` tests: every relation kind links can express."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class HyperAuthor(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        app_label = "testapp"
        ordering = ["pk"]


class HyperProfile(models.Model):
    """Forward one-to-one to the author (reverse: ``author.profile``)."""

    author = models.OneToOneField(HyperAuthor, on_delete=models.CASCADE, related_name="profile")
    bio = models.CharField(max_length=100, blank=True)

    class Meta:
        app_label = "testapp"
        ordering = ["pk"]


class HyperTag(models.Model):
    label = models.CharField(max_length=50)

    class Meta:
        app_label = "testapp"
        ordering = ["pk"]


class HyperPublisher(models.Model):
    """Target of a foreign key with a non-pk ``to_field``."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        app_label = "testapp"
        ordering = ["pk"]


class HyperBook(models.Model):
    title = models.CharField(max_length=100)
    author = models.ForeignKey(
        HyperAuthor, null=True, blank=True, on_delete=models.SET_NULL, related_name="books"
    )
    tags = models.ManyToManyField(HyperTag, blank=True, related_name="books")
    publisher = models.ForeignKey(
        HyperPublisher, to_field="slug", null=True, blank=True, on_delete=models.SET_NULL
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    published = models.BooleanField(default=True)

    class Meta:
        app_label = "testapp"
        ordering = ["pk"]


class HyperNote(models.Model):
    """Served by no stream in the tests: links to it are null."""

    book = models.ForeignKey(HyperBook, on_delete=models.CASCADE, related_name="notes")
    text = models.CharField(max_length=100)

    class Meta:
        app_label = "testapp"
        ordering = ["pk"]


# Inheritance: abstract base -> multi-table Animal -> Dog -> Puppy, and a proxy.
class HyperNamed(models.Model):
    name = models.CharField(max_length=50)

    class Meta:
        abstract = True


class HyperAnimal(HyperNamed):
    keeper = models.ForeignKey(
        HyperAuthor, null=True, blank=True, on_delete=models.SET_NULL, related_name="animals"
    )

    class Meta:
        app_label = "testapp"
        ordering = ["pk"]


class HyperDog(HyperAnimal):
    breed = models.CharField(max_length=50, blank=True)

    class Meta:
        app_label = "testapp"
        ordering = ["pk"]


class HyperPuppy(HyperDog):
    age_weeks = models.PositiveIntegerField(default=8)

    class Meta:
        app_label = "testapp"
        ordering = ["pk"]


class HyperLoudDog(HyperDog):
    class Meta:
        app_label = "testapp"
        proxy = True


class HyperKennel(models.Model):
    """Foreign keys to a multi-table parent and to a child model."""

    resident = models.ForeignKey(
        HyperAnimal, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dog = models.ForeignKey(
        HyperDog, null=True, blank=True, on_delete=models.SET_NULL, related_name="kennels"
    )

    class Meta:
        app_label = "testapp"
        ordering = ["pk"]
