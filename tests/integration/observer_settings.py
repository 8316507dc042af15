"""Settings for the observer integration test: PostgreSQL + channels_redis, from the environment.

The server processes and the writer process all use these; each test run
names its own database, Redis port and channel-layer prefix.
"""

import os

from tests.stacks import console_logging, postgres_database, redis_channel_layer

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
DATABASES = {"default": postgres_database(os.environ.get("OBSERVER_TEST_DB", "test_observer"))}
CHANNEL_LAYERS = {
    "default": redis_channel_layer(
        os.environ.get("OBSERVER_TEST_PREFIX", "observer-test"),
        port=int(os.environ.get("OBSERVER_TEST_REDIS_PORT", "6379")),
    )
}
# The consumer module is registered by StreamsConfig.ready() in every process.
CHANNELS_GATEWAY = {"OBSERVER_MODULES": ["tests.integration.observer_consumers"]}
LOGGING = console_logging("WARNING", "streams")
