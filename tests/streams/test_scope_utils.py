"""``streams.scope_utils``: the HTTP requests built from a websocket scope."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.signed_cookies import SessionStore

from streams.scope_utils import (
    ACTION_METHODS,
    drf_request_from_scope,
    method_for_action,
    request_from_scope,
)


def scope(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "websocket",
        "path": "/ws/books/",
        "query_string": b"a=1&a=2&b=x",
        "headers": [
            (b"host", b"example.com"),
            (b"authorization", b"Token s3cret"),
            (b"x-custom-thing", b"one"),
            (b"x-custom-thing", b"two"),
            (b"content-type", b"application/json"),
            (b"cookie", b"sessionid=abc"),
        ],
        "client": ("10.0.0.1", 5555),
        "server": ("example.com", 443),
        "scheme": "wss",
    }
    base.update(extra)
    return base


@pytest.mark.parametrize(
    ("action", "method"),
    [
        ("create", "POST"),
        ("update", "PUT"),
        ("patch", "PATCH"),
        ("delete", "DELETE"),
        ("list", "GET"),
        ("retrieve", "GET"),
        # Without the consumer only names count: anything else is a write.
        ("subscribe_instance", "POST"),
        ("", "POST"),
        (None, "POST"),
    ],
)
def test_method_for_action(action, method):
    assert method_for_action(action) == method


def test_action_methods_table():
    assert dict(ACTION_METHODS) == {
        "create": "POST",
        "update": "PUT",
        "patch": "PATCH",
        "delete": "DELETE",
        "list": "GET",
        "retrieve": "GET",
        "connect": "HEAD",
    }


def test_headers_land_where_django_and_drf_look():
    request = request_from_scope(scope(), method="PATCH")
    meta = request.META
    assert meta["HTTP_AUTHORIZATION"] == "Token s3cret"
    assert meta["HTTP_HOST"] == "example.com"
    assert meta["HTTP_X_CUSTOM_THING"] == "one,two"  # repeated headers joined, as in WSGI
    assert meta["CONTENT_TYPE"] == "application/json"  # no HTTP_ prefix, as in WSGI
    assert meta["REMOTE_ADDR"] == "10.0.0.1" and meta["SERVER_PORT"] == "443"
    assert meta["REQUEST_METHOD"] == "PATCH" and request.method == "PATCH"
    assert request.path == "/ws/books/"
    assert meta["wsgi.url_scheme"] == "https"
    assert request.get_host() == "example.com"
    assert "authorization" not in meta  # DCRF's raw lower-case names are gone


def test_query_string_becomes_get():
    request = request_from_scope(scope())
    assert request.GET.getlist("a") == ["1", "2"] and request.GET["b"] == "x"


def test_explicit_query_replaces_query_string():
    request = request_from_scope(scope(), query={"q": "x", "ids": [1, 2], "flag": True})
    assert request.GET.getlist("ids") == ["1", "2"]
    assert request.GET["q"] == "x" and request.GET["flag"] == "True"
    assert "a" not in request.GET
    assert not request.GET._mutable


def test_user_and_session_are_carried_over():
    user, session = AnonymousUser(), SessionStore()
    request = request_from_scope(scope(user=user, session=session))
    assert request.user is user and request.session is session


def test_minimal_scope():
    request = request_from_scope({"type": "websocket"})
    assert request.path == "/" and request.GET == {}
    assert not hasattr(request, "user")


def test_drf_request_uses_scope_user_without_authenticators():
    user = AnonymousUser()
    request = drf_request_from_scope(scope(user=user), "create")
    assert request.user is user
    assert request.method == "POST"
    assert request.META["HTTP_AUTHORIZATION"] == "Token s3cret"
    assert request.query_params.getlist("a") == ["1", "2"]


def test_drf_request_without_user_is_anonymous():
    request = drf_request_from_scope({"type": "websocket"}, "delete")
    assert request.method == "DELETE"
    assert not request.user.is_authenticated


async def test_ensure_async_keeps_coroutine_functions_and_wraps_sync_ones():
    import threading

    from streams.scope_utils import ensure_async

    async def already() -> str:
        return "async"

    def sync() -> int:
        return threading.get_ident()

    assert ensure_async(already) is already
    assert await ensure_async(sync)() != threading.get_ident()  # ran in a thread


def test_drf_request_method_can_be_given():
    request = drf_request_from_scope({"type": "websocket"}, "custom", method="OPTIONS")
    assert request.method == "OPTIONS"
    assert drf_request_from_scope({"type": "websocket"}, "custom").method == "POST"
