"""Settings for the operations integration servers (readiness, graceful
shutdown): PostgreSQL and channels_redis, both named by the environment, so a
test can point a server at its own Redis, or at a database that does not exist."""

import os

SECRET_KEY = "ops-integration-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.integration.ops_urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "channels", "streams"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": 5432,
        "USER": "postgres",
        "NAME": os.environ.get("OPS_TEST_DB", "test"),
        "OPTIONS": {"connect_timeout": 2},
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [("127.0.0.1", int(os.environ.get("OPS_TEST_REDIS_PORT", "6379")))],
            "prefix": os.environ.get("OPS_TEST_PREFIX", "ops-test"),
        },
    }
}
CHANNELS_GATEWAY = {"DEFAULT_PERMISSION_CLASSES": ("streams.permissions.AllowAny",)}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        name: {"handlers": ["console"], "level": "INFO"} for name in ("gateway", "streams")
    },
}
