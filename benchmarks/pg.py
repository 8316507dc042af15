"""A PostgreSQL database of its own for each benchmark run.

Eight people share the machine's PostgreSQL (127.0.0.1:5432, user
``postgres``, trust auth), so every run creates ``bench_<pid>_<random>`` and
drops it at the end (``WITH (FORCE)``: a server that did not let go of its
connections must not leave the database behind). Nothing here imports Django.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid

HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
USER = os.environ.get("BENCH_PG_USER", "postgres")


def available() -> str | None:
    """None when a database can be created here, else why not."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[bench]')"
    try:
        with socket.create_connection((HOST, PORT), timeout=0.5):
            return None
    except OSError as exc:
        return f"no PostgreSQL at {HOST}:{PORT} ({exc})"


def _admin():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(host=HOST, port=PORT, user=USER, dbname="postgres", autocommit=True)


def create_database() -> str:
    name = f"bench_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    with _admin() as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with contextlib.suppress(Exception), _admin() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
