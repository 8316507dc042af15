"""System checks: what ``manage.py check`` reports about a project's set-up.

Run through ``django.core.checks.run_checks`` (what ``manage.py check`` calls),
so registration is tested too. The fresh-project tests of docs/INSTALL.md run
the real command (tests/docs/test_install.py).
"""

from __future__ import annotations

import pytest
from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.checks import run_checks
from django.test import modify_settings, override_settings
from django.urls import path

from gateway import Gateway
from streams.auth import AuthMiddlewareStack as StreamsAuthMiddlewareStack

# Declares observers (ItemConsumer & co.), as a project's consumers module would.
from tests.streams.observer.support import ItemConsumer

IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def ids(**kwargs: object) -> list[str]:
    return [m.id for m in run_checks(**kwargs) if (m.id or "").startswith("streams.")]  # type: ignore[arg-type]


GATEWAY = Gateway.as_asgi(streams={"items": ItemConsumer})
GUARDED = ProtocolTypeRouter(
    {
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter([path("ws/", GATEWAY)]))
        )
    }
)
UNGUARDED = ProtocolTypeRouter(
    {"websocket": AuthMiddlewareStack(URLRouter([path("ws/", GATEWAY)]))}
)
# The same behind streams.auth's stack (tokens, credential lifetime).
UNGUARDED_TOKENS = ProtocolTypeRouter(
    {"websocket": StreamsAuthMiddlewareStack(URLRouter([path("ws/", GATEWAY)]))}
)
PARTLY_GUARDED = ProtocolTypeRouter(
    {
        "websocket": URLRouter(
            [
                path("ws/", AllowedHostsOriginValidator(GATEWAY)),
                path("raw/", ItemConsumer.as_asgi()),
            ]
        )
    }
)


def test_the_test_settings_pass():
    assert ids() == []


def test_observers_without_the_streams_app_are_an_error():
    with modify_settings(INSTALLED_APPS={"remove": ["streams"]}):
        messages = [m for m in run_checks() if m.id == "streams.E001"]
    assert len(messages) == 1
    assert "testapp.ObsItem" in messages[0].msg
    assert messages[0].hint == 'Add "streams" to INSTALLED_APPS.'


def test_observers_without_a_channel_layer_are_an_error():
    with override_settings(CHANNEL_LAYERS={}):
        messages = [m for m in run_checks() if m.id == "streams.E002"]
    assert len(messages) == 1
    assert "tests.streams.observer.support.ItemConsumer" in messages[0].msg
    assert "CHANNEL_LAYERS" in messages[0].hint


def test_a_layer_without_a_default_alias_is_no_layer():
    layers = {"other": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    with override_settings(CHANNEL_LAYERS=layers):
        assert "streams.E002" in ids()


@pytest.mark.parametrize(
    ("name", "value", "warned"),
    [
        ("WEB_CONCURRENCY", "4", True),
        ("WEB_CONCURRENCY", "1", False),
        ("UVICORN_WORKERS", "2", True),
        ("GUNICORN_CMD_ARGS", "--bind 0.0.0.0 --workers 3", True),
        ("GUNICORN_CMD_ARGS", "-w 2", True),
        ("GUNICORN_CMD_ARGS", "--workers=1", False),
        ("GUNICORN_CMD_ARGS", "--worker-class uvicorn.workers.UvicornWorker", False),
    ],
)
def test_in_memory_layer_with_several_processes_is_a_warning(monkeypatch, name, value, warned):
    monkeypatch.setenv(name, value)
    with override_settings(CHANNEL_LAYERS=IN_MEMORY):  # whatever layer the test stack uses
        assert ("streams.W003" in ids()) is warned


REDIS_BACKEND = "channels_redis.core.RedisChannelLayer"


def redis_layers(*hosts: object) -> dict[str, object]:
    return {"default": {"BACKEND": REDIS_BACKEND, "CONFIG": {"hosts": list(hosts)}}}


def test_redis_layer_with_several_processes_is_fine(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    layers = redis_layers({"address": "redis://127.0.0.1:6379", "socket_timeout": 10})
    with override_settings(CHANNEL_LAYERS=layers):
        assert ids() == []


@pytest.mark.parametrize(
    "host",
    [
        "redis://127.0.0.1:6379",
        ("127.0.0.1", 6379),
        {"address": "redis://127.0.0.1:6379"},
        {"address": "redis://127.0.0.1:6379", "socket_timeout": 5},
        "redis://127.0.0.1:6379?socket_timeout=3",
    ],
)
def test_redis_reads_timing_out_with_the_blocking_receive_are_a_warning(monkeypatch, host):
    # redis-py 8's default; earlier releases have none (no read timeout).
    monkeypatch.setattr("redis.asyncio.connection.DEFAULT_SOCKET_TIMEOUT", 5, raising=False)
    with override_settings(CHANNEL_LAYERS=redis_layers(host)):
        assert ids() == ["streams.W007"]


@pytest.mark.parametrize(
    "host",
    [
        {"address": "redis://127.0.0.1:6379", "socket_timeout": 10},
        "redis://127.0.0.1:6379?socket_timeout=10",
        {"host": "127.0.0.1", "port": 6379, "socket_timeout": None},
    ],
)
def test_redis_reads_outliving_the_blocking_receive_pass(monkeypatch, host):
    monkeypatch.setattr("redis.asyncio.connection.DEFAULT_SOCKET_TIMEOUT", 5, raising=False)
    with override_settings(CHANNEL_LAYERS=redis_layers(host)):
        assert ids() == []


def test_redis_without_a_default_read_timeout_passes(monkeypatch):
    monkeypatch.setattr("redis.asyncio.connection.DEFAULT_SOCKET_TIMEOUT", None, raising=False)
    with override_settings(CHANNEL_LAYERS=redis_layers("redis://127.0.0.1:6379")):
        assert ids() == []


def test_in_memory_layer_is_a_deployment_warning():
    with override_settings(CHANNEL_LAYERS=IN_MEMORY):
        assert "streams.W004" in ids(include_deployment_checks=True)
        assert "streams.W004" not in ids()


def test_a_guarded_gateway_passes():
    with override_settings(ASGI_APPLICATION="tests.streams.test_checks.GUARDED"):
        assert ids() == []


@pytest.mark.parametrize("app", ["UNGUARDED", "UNGUARDED_TOKENS"])
def test_an_unguarded_gateway_is_a_warning(app):
    with override_settings(ASGI_APPLICATION=f"tests.streams.test_checks.{app}"):
        messages = [m for m in run_checks() if m.id == "streams.W005"]
    assert len(messages) == 1
    assert "gateway.gateway.Gateway" in messages[0].msg
    assert "AllowedHostsOriginValidator" in messages[0].hint


def test_each_unguarded_route_is_named():
    with override_settings(ASGI_APPLICATION="tests.streams.test_checks.PARTLY_GUARDED"):
        (message,) = [m for m in run_checks() if m.id == "streams.W005"]
    assert "tests.streams.observer.support.ItemConsumer" in message.msg
    assert "gateway.gateway.Gateway" not in message.msg


def test_an_asgi_application_that_cannot_be_imported_is_an_error():
    with override_settings(ASGI_APPLICATION="tests.streams.test_checks.MISSING"):
        messages = [m for m in run_checks() if m.id == "streams.E006"]
    assert len(messages) == 1
    assert "get_asgi_application()" in messages[0].hint
