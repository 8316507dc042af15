"""A small library: authors write books, books carry tags, readers review books.

Every model's manager is ``ObservableManager``, so bulk writes
(``Review.objects.filter(...).update(...)`` in a shell) reach subscribers too,
not only ``save()`` and ``delete()``.

The relations are the point: a forward FK (book -> author), a reverse FK
(author -> books), an M2M used from both sides (book <-> tags) and a FK to the
user model (review -> user), so the page can browse every kind of link.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from streams.observer.bulk import ObservableManager


class Author(models.Model):
    name = models.CharField(max_length=200, unique=True)
    born = models.PositiveIntegerField(null=True, blank=True)
    bio = models.TextField(blank=True)

    objects = ObservableManager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.SlugField(max_length=50, unique=True)

    objects = ObservableManager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Book(models.Model):
    title = models.CharField(max_length=300)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    tags = models.ManyToManyField(Tag, related_name="books", blank=True)
    published = models.PositiveIntegerField(null=True, blank=True)
    summary = models.TextField(blank=True)

    objects = ObservableManager()

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(fields=["author", "title"], name="library_book_unique_title")
        ]

    def __str__(self) -> str:
        return self.title


class Review(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="reviews")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews"
    )
    rating = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    text = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = ObservableManager()

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.rating}/5 for {self.book} by {self.user}"
