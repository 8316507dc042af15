"""``manage.py seed_demo``: load the demo's library and its users, idempotently.

Every object is looked up by its natural key before it is created, so running
the command again (``make demo`` does, on every start) adds nothing and keeps
edits made through the page.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from library.models import Author, Book, Review, Tag

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"
# Other readers own reviews the demo user may read but not edit. They cannot
# log in (unusable passwords).
READERS = ("alice", "bob")

# author -> (born, bio, [(title, published, tags, summary)])
CATALOGUE: dict[str, tuple[int, str, list[tuple[str, int, tuple[str, ...], str]]]] = {
    "Ursula K. Le Guin": (
        1929,
        "Wrote about anarchists, wizards and the people who live between worlds.",
        [
            ("A Wizard of Earthsea", 1968, ("fantasy", "classic"), "A boy learns names."),
            (
                "The Left Hand of Darkness",
                1969,
                ("science-fiction", "classic"),
                "An envoy on Winter.",
            ),
            ("The Dispossessed", 1974, ("science-fiction", "politics"), "Two worlds, one wall."),
        ],
    ),
    "Italo Calvino": (
        1923,
        "Built cities out of sentences.",
        [
            ("Invisible Cities", 1972, ("literary", "classic"), "Marco Polo describes cities."),
            ("If on a winter's night a traveler", 1979, ("literary",), "You start reading."),
        ],
    ),
    "Octavia E. Butler": (
        1947,
        "Wrote about survival, power and change.",
        [
            ("Kindred", 1979, ("science-fiction", "history"), "A woman is pulled back in time."),
            ("Parable of the Sower", 1993, ("science-fiction", "politics"), "Earthseed begins."),
        ],
    ),
    "Jorge Luis Borges": (
        1899,
        "Libraries, labyrinths and mirrors.",
        [
            ("Ficciones", 1944, ("literary", "fantasy", "classic"), "Stories about stories."),
        ],
    ),
}

# (book title, reader, rating, text)
REVIEWS: list[tuple[str, str, int, str]] = [
    ("A Wizard of Earthsea", DEMO_USERNAME, 5, "The shadow chapter still gives me chills."),
    ("A Wizard of Earthsea", "alice", 4, "Short, wise and strange."),
    ("The Dispossessed", DEMO_USERNAME, 4, "An ambiguous utopia indeed."),
    ("The Dispossessed", "bob", 5, "Changed how I think about property."),
    ("Invisible Cities", "alice", 5, "Every page is a postcard from nowhere."),
    ("Kindred", DEMO_USERNAME, 5, "Impossible to put down."),
    ("Kindred", "bob", 4, "Hard to read, harder to forget."),
    ("Ficciones", "alice", 3, "Brilliant, but my head hurts."),
]


class Command(BaseCommand):
    help = "Create the demo library and the demo user (demo / demo-password). Safe to re-run."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            created = self.seed()
        self.stdout.write(
            f"seed_demo: {Author.objects.count()} authors, {Book.objects.count()} books, "
            f"{Tag.objects.count()} tags, {Review.objects.count()} reviews "
            f"({created} objects created); log in as {DEMO_USERNAME} / {DEMO_PASSWORD}"
        )

    def seed(self) -> int:
        created = 0
        user_model = get_user_model()
        demo, new = user_model.objects.get_or_create(username=DEMO_USERNAME)
        created += new
        if new or not demo.check_password(DEMO_PASSWORD):
            demo.set_password(DEMO_PASSWORD)
            demo.save()
        users = {DEMO_USERNAME: demo}
        for name in READERS:
            reader, new = user_model.objects.get_or_create(username=name)
            if new:
                reader.set_unusable_password()
                reader.save()
                created += 1
            users[name] = reader

        books: dict[str, Book] = {}
        for author_name, (born, bio, titles) in CATALOGUE.items():
            author, new = Author.objects.get_or_create(
                name=author_name, defaults={"born": born, "bio": bio}
            )
            created += new
            for title, published, tag_names, summary in titles:
                book, new = Book.objects.get_or_create(
                    author=author,
                    title=title,
                    defaults={"published": published, "summary": summary},
                )
                created += new
                if new:
                    tags = []
                    for tag_name in tag_names:
                        tag, tag_new = Tag.objects.get_or_create(name=tag_name)
                        created += tag_new
                        tags.append(tag)
                    book.tags.set(tags)
                books[title] = book

        for title, username, rating, text in REVIEWS:
            _, new = Review.objects.get_or_create(
                book=books[title],
                user=users[username],
                defaults={"rating": rating, "text": text},
            )
            created += new
        return created
