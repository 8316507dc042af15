"""Settings shared by both stacks; only the stack's own app differs.

Configured from the environment by the harness:

- ``BENCH_STACK``: ``ours``, ``ref`` or ``none``.
- ``BENCH_DB``: path of this server's copy of the SQLite database.
- ``BENCH_PG_NAME``: when set, PostgreSQL at 127.0.0.1:5432 (user ``postgres``,
  trust auth) with this database, one per run, instead of SQLite; connections
  persist for a minute (``CONN_MAX_AGE = 60``) on both stacks, as PostgreSQL
  users set it up in production (a new connection costs about 5 ms).
- ``BENCH_LAYER``: ``memory`` (InMemoryChannelLayer) or ``redis`` (channels_redis).
- ``BENCH_REDIS_PREFIX``: a per-run prefix so runs never see each other's groups.
- ``BENCH_STREAMS``: how many streams the gateway / demultiplexer mounts.

Django defaults are kept where users keep them (``CONN_MAX_AGE = 0``, no
persistent connections), because that is what both stacks meet in the field.
"""

import os

STACK = os.environ.get("BENCH_STACK", "none")
if STACK not in {"ours", "ref", "none"}:
    raise RuntimeError(f"BENCH_STACK must be ours, ref or none, not {STACK!r}")

SECRET_KEY = "benchmarks-only-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "benchmarks.project.urls"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "channels",
    "benchmarks.project.apps.BenchConfig",
]
if STACK == "ours":
    INSTALLED_APPS.append("streams")

PG_NAME = os.environ.get("BENCH_PG_NAME", "")
if PG_NAME:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": PG_NAME,
            "USER": os.environ.get("BENCH_PG_USER", "postgres"),
            "HOST": os.environ.get("BENCH_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("BENCH_PG_PORT", "5432"),
            "CONN_MAX_AGE": 60,
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCH_DB", ":memory:"),
        }
    }

if os.environ.get("BENCH_LAYER", "memory") == "redis":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")],
                "prefix": os.environ.get("BENCH_REDIS_PREFIX", "bench"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

STREAM_COUNT = int(os.environ.get("BENCH_STREAMS", "3"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler", "level": "WARNING"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
