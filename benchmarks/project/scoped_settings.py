"""Settings of ``benchmarks.project.scoped_app``: the production stack.

PostgreSQL (``BENCH_PG_DB`` on 127.0.0.1:5432) and channels_redis
(``BENCH_REDIS_URL``, ``BENCH_REDIS_PREFIX``); everything else as in
``benchmarks.project.settings``. Connections are not persistent
(``CONN_MAX_AGE = 0``), as Django ships.
"""

import os

os.environ.setdefault("BENCH_STACK", "ours")
os.environ["BENCH_LAYER"] = "redis"

from benchmarks.project.settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": 5432,
        "USER": "postgres",
        "NAME": os.environ.get("BENCH_PG_DB", "bench_scoped"),
        "CONN_MAX_AGE": int(os.environ.get("BENCH_CONN_MAX_AGE", "0")),
    }
}
CHANNELS_GATEWAY = {"MAX_SUBSCRIPTIONS": None}
