from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100)
    bio = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    def __str__(self) -> str:
        return self.name


class Book(models.Model):
    """The observed model: retrieved, listed, patched and subscribed to.

    Shaped like the library apps users run: a foreign key (``author``) and a
    many-to-many (``tags``) serialised on every retrieve, the M2M loaded with
    ``prefetch_related`` (one extra query per retrieve, as in the field).
    """

    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, related_name="books", on_delete=models.CASCADE)
    tags = models.ManyToManyField(Tag, related_name="books", blank=True)
    pages = models.PositiveIntegerField(default=0)
    published = models.DateField(null=True, blank=True)
    summary = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.title
