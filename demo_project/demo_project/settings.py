"""Settings for the channels-gateway demo.

Defaults need nothing but Python: SQLite in ``demo_project/db.sqlite3`` and the
in-memory channel layer (one server process). Environment variables switch to
the deployment set-up:

- ``REDIS_URL`` (e.g. ``redis://127.0.0.1:6379/0``): channels_redis, so several
  server processes share groups, live updates and the observers' history
  (``REDIS_PREFIX`` sets the key prefix, default ``asgi``);
- ``DATABASE_URL`` (e.g. ``postgres://postgres@127.0.0.1:5432/demo``): any
  database dj-database-url understands; with several processes, use PostgreSQL;
- ``DJANGO_DEBUG=1``, ``DJANGO_SECRET_KEY``, ``DJANGO_ALLOWED_HOSTS`` (comma-separated,
  added to the local names), ``DJANGO_LOG_LEVEL``.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# A fixed key is fine for a local demo; set DJANGO_SECRET_KEY anywhere else.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-insecure-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "").lower() in {"1", "true", "yes"}

ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"] + [
    host.strip() for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if host.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "channels",
    "streams",
    "gateway",  # serves the JS client: {% static 'gateway/client.js' %}
    # The AsyncAPI document, `manage.py asyncapi` and the browsable gateway page.
    "apidocs",
    "library",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "demo_project.urls"
ASGI_APPLICATION = "demo_project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database() -> dict[str, object]:
    url = os.environ.get("DATABASE_URL")
    if url:
        import dj_database_url

        # conn_max_age=0: under ASGI each sync call may run in a fresh thread,
        # and persistent connections would pile up.
        return dj_database_url.parse(url, conn_max_age=0)
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}


DATABASES = {"default": _database()}


def _channel_layers() -> dict[str, object]:
    url = os.environ.get("REDIS_URL")
    if url:
        return {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                # socket_timeout above channels_redis' 5 s blocking receive:
                # see docs/OPERATIONS.md and the streams.W007 check.
                "CONFIG": {
                    "hosts": [{"address": url, "socket_timeout": 10}],
                    "prefix": os.environ.get("REDIS_PREFIX", "asgi"),
                },
            }
        }
    return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


CHANNEL_LAYERS = _channel_layers()

CHANNELS_GATEWAY = {
    "DEFAULT_PERMISSION_CLASSES": ("streams.permissions.AllowAny",),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ("rest_framework.authentication.SessionAuthentication",),
}

AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        name: {"level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")}
        for name in ("gateway", "streams", "hypermedia", "apidocs", "library")
    },
}
