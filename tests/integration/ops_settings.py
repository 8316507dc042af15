"""Settings for the operations integration servers (readiness, graceful
shutdown): PostgreSQL and channels_redis, both named by the environment, so a
test can point a server at its own Redis, or at a database that does not exist."""

import os

from tests.stacks import console_logging, postgres_database, redis_channel_layer

SECRET_KEY = "ops-integration-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.integration.ops_urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "channels", "streams"]
DATABASES = {
    "default": postgres_database(
        os.environ.get("OPS_TEST_DB", "test"), OPTIONS={"connect_timeout": 2}
    )
}
CHANNEL_LAYERS = {
    "default": redis_channel_layer(
        os.environ.get("OPS_TEST_PREFIX", "ops-test"),
        port=int(os.environ.get("OPS_TEST_REDIS_PORT", "6379")),
    )
}
CHANNELS_GATEWAY = {"DEFAULT_PERMISSION_CLASSES": ("streams.permissions.AllowAny",)}
LOGGING = console_logging("INFO", "gateway", "streams")
