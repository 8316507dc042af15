"""Settings of the credential-lifetime integration test: PostgreSQL, channels_redis, Redis cache.

Every process of a run (two servers, the scripts acting as HTTP workers) uses
these; the run's database, Redis prefixes and cache prefix come from the
environment, so parallel runs never meet.
"""

import os

from tests.stacks import console_logging, postgres_database, redis_channel_layer

SECRET_KEY = "auth-integration-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "rest_framework.authtoken",
    "channels",
    "streams",
    "tests.testapp",
]
PREFIX = os.environ.get("AUTH_TEST_PREFIX", "auth-test")
DATABASES = {"default": postgres_database(os.environ.get("AUTH_TEST_DB", "test_auth"))}
CHANNEL_LAYERS = {"default": redis_channel_layer(PREFIX)}
# Throttle history shared by both servers.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379",
        "KEY_PREFIX": PREFIX,
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"
REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"pings": "3/min"}}
SIMPLE_JWT = {"SIGNING_KEY": "auth-integration-jwt-signing-key-not-secret-0123"}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = console_logging("WARNING", "streams")
