from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100)
    bio = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.name


class Book(models.Model):
    """The observed model: retrieved, listed, patched and subscribed to."""

    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, related_name="books", on_delete=models.CASCADE)
    pages = models.PositiveIntegerField(default=0)
    published = models.DateField(null=True, blank=True)
    summary = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.title
