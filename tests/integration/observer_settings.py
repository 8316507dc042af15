"""Settings for the observer integration test: PostgreSQL + channels_redis, from the environment.

The server processes and the writer process all use these; each test run
names its own database, Redis port and channel-layer prefix.
"""

import os

SECRET_KEY = "observer-integration-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "channels",
    "streams",
    "tests.testapp",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": 5432,
        "USER": "postgres",
        "NAME": os.environ.get("OBSERVER_TEST_DB", "test_observer"),
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [("127.0.0.1", int(os.environ.get("OBSERVER_TEST_REDIS_PORT", "6379")))],
            "prefix": os.environ.get("OBSERVER_TEST_PREFIX", "observer-test"),
        },
    }
}
# The consumer module is registered by StreamsConfig.ready() in every process.
CHANNELS_GATEWAY = {"OBSERVER_MODULES": ["tests.integration.observer_consumers"]}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"streams": {"handlers": ["console"], "level": "WARNING"}},
}
