"""``streams.settings.api_settings``: keys, defaults, dotted paths, reloads."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from rest_framework import permissions as drf

from streams.consumers import AsyncAPIConsumer
from streams.decorators import action
from streams.pagination import WebsocketLimitOffsetPagination
from streams.permissions import AllowAny, IsAuthenticated
from streams.settings import DEFAULTS, APISettings, api_settings
from tests.conftest import request


def test_defaults():
    classes = api_settings.DEFAULT_PERMISSION_CLASSES
    assert classes == (AllowAny,)
    assert api_settings.DEFAULT_PAGINATION_CLASS is None
    assert api_settings.PAGE_SIZE is None
    assert api_settings.DEFAULT_FILTER_BACKENDS == ()
    assert api_settings.MAX_REQUEST_ID_LENGTH == 1024


def test_channels_gateway_key():
    with override_settings(CHANNELS_GATEWAY={"PAGE_SIZE": 7}):
        assert api_settings.PAGE_SIZE == 7
    assert api_settings.PAGE_SIZE is None  # restored on exit


def test_legacy_dcrf_key():
    with override_settings(DJANGO_CHANNELS_REST_API={"PAGE_SIZE": 3}):
        assert api_settings.PAGE_SIZE == 3


def test_new_key_wins_over_legacy_key_per_setting():
    with override_settings(
        DJANGO_CHANNELS_REST_API={"PAGE_SIZE": 3, "MAX_REQUEST_ID_LENGTH": 10},
        CHANNELS_GATEWAY={"PAGE_SIZE": 9},
    ):
        assert api_settings.PAGE_SIZE == 9
        assert api_settings.MAX_REQUEST_ID_LENGTH == 10


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["streams.permissions.IsAuthenticated"], (IsAuthenticated,)),
        (("rest_framework.permissions.IsAdminUser",), (drf.IsAdminUser,)),
        ([IsAuthenticated, "streams.permissions.AllowAny"], (IsAuthenticated, AllowAny)),
        ([], ()),
    ],
)
def test_dotted_paths_resolve(value, expected):
    with override_settings(CHANNELS_GATEWAY={"DEFAULT_PERMISSION_CLASSES": value}):
        classes = api_settings.DEFAULT_PERMISSION_CLASSES
        assert classes == expected


def test_single_dotted_path_and_none():
    path = "streams.pagination.WebsocketLimitOffsetPagination"
    with override_settings(CHANNELS_GATEWAY={"DEFAULT_PAGINATION_CLASS": path}):
        assert api_settings.DEFAULT_PAGINATION_CLASS is WebsocketLimitOffsetPagination
    with override_settings(CHANNELS_GATEWAY={"DEFAULT_PAGINATION_CLASS": None}):
        assert api_settings.DEFAULT_PAGINATION_CLASS is None


@pytest.mark.parametrize("path", ["streams.permissions.Missing", "no_such_module.Thing", "x"])
def test_bad_dotted_path_names_setting_and_fix(path):
    with (
        override_settings(CHANNELS_GATEWAY={"DEFAULT_PERMISSION_CLASSES": [path]}),
        pytest.raises(ImportError) as info,
    ):
        getattr(api_settings, "DEFAULT_PERMISSION_CLASSES")  # noqa: B009
    message = str(info.value)
    assert path in message
    assert "DEFAULT_PERMISSION_CLASSES" in message and "dotted path" in message


def test_unknown_setting_lists_valid_ones():
    with pytest.raises(AttributeError) as info:
        getattr(api_settings, "PAGE_SIZES")  # noqa: B009
    assert "PAGE_SIZES" in str(info.value) and "PAGE_SIZE" in str(info.value)


def test_values_are_cached_until_reload():
    settings = APISettings(defaults=dict(DEFAULTS))
    with override_settings(CHANNELS_GATEWAY={"PAGE_SIZE": 5}):
        assert settings.PAGE_SIZE == 5
    # A private instance is not reloaded by the signal: it keeps its cache...
    assert settings.PAGE_SIZE == 5
    settings.reload()
    assert settings.PAGE_SIZE is None


def test_unrelated_setting_change_keeps_cache():
    with override_settings(CHANNELS_GATEWAY={"PAGE_SIZE": 4}):
        assert api_settings.PAGE_SIZE == 4
        with override_settings(DEBUG=True):
            assert api_settings.PAGE_SIZE == 4


def test_empty_or_none_user_settings():
    with override_settings(CHANNELS_GATEWAY=None, DJANGO_CHANNELS_REST_API={}):
        assert api_settings.PAGE_SIZE is None


class Defaulted(AsyncAPIConsumer):
    @action()
    async def go(self, **kwargs: Any) -> tuple[Any, int]:
        return "ok", 200


async def test_override_reaches_a_running_consumer(communicator):
    comm = await communicator(Defaulted.as_asgi())
    assert (await request(comm, {"action": "go"}))["response_status"] == 200
    setting = {"DEFAULT_PERMISSION_CLASSES": ["streams.permissions.IsAuthenticated"]}
    with override_settings(DJANGO_CHANNELS_REST_API=setting):
        assert (await request(comm, {"action": "go"}))["response_status"] == 403
    assert (await request(comm, {"action": "go"}))["response_status"] == 200


async def test_request_id_limit_from_settings(communicator):
    comm = await communicator(Defaulted.as_asgi())
    with override_settings(CHANNELS_GATEWAY={"MAX_REQUEST_ID_LENGTH": 4}):
        assert (await request(comm, {"action": "go", "request_id": "abcde"}))[
            "response_status"
        ] == 400
        assert (await request(comm, {"action": "go", "request_id": "abcd"}))[
            "response_status"
        ] == 200


def test_reload_api_settings_drops_the_cache_for_both_keys_only():
    from django.conf import settings

    from streams.settings import reload_api_settings

    assert api_settings.PAGE_SIZE is None
    settings.CHANNELS_GATEWAY = {"PAGE_SIZE": 3}
    try:
        assert api_settings.PAGE_SIZE is None  # cached until reloaded
        reload_api_settings(setting="SOMETHING_ELSE")
        assert api_settings.PAGE_SIZE is None
        reload_api_settings(setting="CHANNELS_GATEWAY")
        assert api_settings.PAGE_SIZE == 3
    finally:
        del settings.CHANNELS_GATEWAY
        reload_api_settings()
    assert api_settings.PAGE_SIZE is None
