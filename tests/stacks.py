"""Which stack the suite runs on: ``CG_TEST_STACK=fast`` (default) or ``production``.

The fast stack is in-memory SQLite and Channels' in-memory layer: quick, but a
closed connection there does nothing and a cancelled task never sits in a
socket read. The production stack is what users deploy: PostgreSQL
(127.0.0.1:5432, user postgres) and channels_redis (127.0.0.1:6379). Run it
with ``make pytest-production`` or ``CG_TEST_STACK=production .venv/bin/pytest``;
``make test`` runs both.

Several people (and CI jobs) run the suite on one machine at once, so every
production run gets its own test database and channel-layer prefix, both
named after the process id and a random suffix (``RUN_ID``).

``CG_TEST_CONN_MAX_AGE`` (seconds, default 0) and ``CG_TEST_CONN_HEALTH_CHECKS``
(``1`` to enable) set the database connection's lifetime options, so the
production run can be repeated with persistent connections.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

STACK = os.environ.get("CG_TEST_STACK", "fast").strip().lower() or "fast"
if STACK not in {"fast", "production"}:
    raise RuntimeError(
        f"CG_TEST_STACK={STACK!r} is not a test stack; use 'fast' (SQLite + in-memory "
        "layer, the default) or 'production' (PostgreSQL + channels_redis)."
    )
PRODUCTION = STACK == "production"

RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:8]}"

#: For tests about the in-memory layer's own behaviour (e.g. the observer's
#: shortcut of reading its groups): they have no meaning on channels_redis.
in_memory_layer_only = pytest.mark.skipif(
    PRODUCTION,
    reason="about Channels' in-memory layer, which the production stack replaces with "
    "channels_redis (CG_TEST_STACK=production)",
)

#: For tests of what only a real PostgreSQL server does (statement timeouts,
#: connections the server drops); the production run has them.
postgres_only = pytest.mark.skipif(
    not PRODUCTION,
    reason="needs a real PostgreSQL server: runs on the production stack "
    "(CG_TEST_STACK=production, part of make test)",
)

POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def postgres_database(name: str, **extra: Any) -> dict[str, Any]:
    """A ``DATABASES`` entry for the PostgreSQL users run (127.0.0.1:5432, user postgres).

    The production stack and every integration server's settings build theirs
    here; ``extra`` adds or replaces keys (``OPTIONS``, ``ENGINE``...).
    """
    return {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": POSTGRES_HOST,
        "PORT": POSTGRES_PORT,
        "USER": "postgres",
        "NAME": name,
        **extra,
    }


def redis_channel_layer(prefix: str, port: int = REDIS_PORT) -> dict[str, Any]:
    """A ``CHANNEL_LAYERS`` entry for channels_redis on 127.0.0.1, under its own prefix.

    For the integration servers: each run (and each test pointing a server at
    a Redis of its own, by port) keeps its groups apart by prefix.
    """
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [(REDIS_HOST, port)], "prefix": prefix},
    }


def console_logging(level: str, *loggers: str) -> dict[str, Any]:
    """``LOGGING`` for a server process: ``loggers`` at ``level`` and above on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"console": {"class": "logging.StreamHandler"}},
        "loggers": {name: {"handlers": ["console"], "level": level} for name in loggers},
    }


def production_databases() -> dict[str, Any]:
    return {
        "default": postgres_database(
            "postgres",
            # Django's PostgreSQL backend; only the reset between tests differs.
            ENGINE="tests.pgflush",
            TEST={"NAME": f"test_cg_{RUN_ID}"},
            CONN_MAX_AGE=int(os.environ.get("CG_TEST_CONN_MAX_AGE", "0")),
            CONN_HEALTH_CHECKS=os.environ.get("CG_TEST_CONN_HEALTH_CHECKS", "") == "1",
            # Commits need not wait for the disk: test data is thrown away.
            OPTIONS={"options": "-c synchronous_commit=off"},
        )
    }


def production_channel_layers() -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "tests.layers.InspectableRedisChannelLayer",
            "CONFIG": {
                # Reads must outlive channels_redis' 5 s blocking receive
                # (streams.W007; redis-py 8 times them out at 5 s).
                "hosts": [{"address": f"redis://{REDIS_HOST}:{REDIS_PORT}", "socket_timeout": 10}],
                "prefix": f"cg-test-{RUN_ID}",
            },
        }
    }


#: ``(CONN_MAX_AGE, CONN_HEALTH_CHECKS)`` pairs worth proving connection handling under.
CONNECTION_LIFETIMES = [(0, False), (0, True), (60, False), (60, True)]


def set_connection_lifetime(max_age: int, health_checks: bool) -> tuple[Any, Any]:
    """Set the default database's lifetime options for connections opened from now on.

    Every thread's connection wrapper shares the alias's settings dict, so this
    reaches the action threads too. Returns the previous pair, to restore.
    """
    from django.db import connections

    settings_dict = connections.settings["default"]
    previous = settings_dict["CONN_MAX_AGE"], settings_dict["CONN_HEALTH_CHECKS"]
    settings_dict["CONN_MAX_AGE"], settings_dict["CONN_HEALTH_CHECKS"] = max_age, health_checks
    return previous
