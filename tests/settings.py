"""Django settings for the test suite.

By default SQLite and the in-memory channel layer (the fast stack); with
``CG_TEST_STACK=production``, PostgreSQL and channels_redis with a database
name and prefix of their own per run (see ``tests/stacks.py``).
"""

from tests import stacks

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "rest_framework.authtoken",
    "channels",
    "streams",
    "apidocs",
    "tests.testapp",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
STATIC_URL = "static/"

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
        "TEST": {"NAME": ":memory:"},
    }
}

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# simplejwt signs with SECRET_KEY by default, which is too short for HS256 here.
SIMPLE_JWT = {"SIGNING_KEY": "tests-only-jwt-signing-key-not-secret-0123456789"}

if stacks.PRODUCTION:
    DATABASES = stacks.production_databases()
    CHANNEL_LAYERS = stacks.production_channel_layers()

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "loggers": {},
}
