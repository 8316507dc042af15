"""Create the benchmark database once per run: ``python -m benchmarks.project.seed PATH``.

Every server gets a byte-for-byte copy of this file (or, on PostgreSQL, the
run's own database), so both stacks read the same rows. Deterministic
contents: 20 authors, 30 tags, 100 books with three tags each.
"""

from __future__ import annotations

import datetime
import os
import sys

AUTHORS = 20
BOOKS = 100
TAGS = 30
TAGS_PER_BOOK = 3


def main(path: str) -> None:
    """Seed SQLite at ``path``, or the PostgreSQL database ``BENCH_PG_NAME`` names."""
    os.environ["BENCH_DB"] = path
    os.environ.setdefault("BENCH_STACK", "none")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.project.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from benchmarks.project.models import Author, Book, Tag

    call_command("migrate", run_syncdb=True, verbosity=0)
    authors = Author.objects.bulk_create(
        Author(name=f"Author {i}", bio=f"Biography of author {i}. " * 4) for i in range(AUTHORS)
    )
    start = datetime.date(2000, 1, 1)
    Tag.objects.bulk_create(Tag(name=f"tag-{i}") for i in range(TAGS))
    Book.objects.bulk_create(
        Book(
            title=f"Book {i}",
            author=authors[i % AUTHORS],
            pages=100 + i,
            published=start + datetime.timedelta(days=i),
            summary=f"A summary of book {i}, long enough to look like real text. " * 2,
        )
        for i in range(BOOKS)
    )
    books = list(Book.objects.order_by("id"))
    tags = list(Tag.objects.order_by("id"))
    Book.tags.through.objects.bulk_create(
        Book.tags.through(book_id=book.pk, tag_id=tags[(i + step * 7) % TAGS].pk)
        for i, book in enumerate(books)
        for step in range(TAGS_PER_BOOK)
    )


if __name__ == "__main__":
    main(sys.argv[1])
