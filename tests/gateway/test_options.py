"""GatewayOptions: defaults, per-class and per-route overrides, validation."""

from __future__ import annotations

import json

import pytest
from rest_framework.utils.encoders import JSONEncoder as DRFJSONEncoder

from gateway import Gateway, GatewayOptions
from gateway.options import DEFAULT_OPTIONS, OPTION_NAMES
from tests.gateway.consumers import EchoConsumer


class Tuned(Gateway):
    streams = {"echo": EchoConsumer}
    max_in_flight = 7


def test_defaults_are_the_class_attributes():
    assert DEFAULT_OPTIONS.max_frame_bytes == 1024 * 1024
    options = GatewayOptions.resolve(Gateway)
    for name in OPTION_NAMES:
        if name != "json_encoder":
            assert getattr(options, name) == getattr(DEFAULT_OPTIONS, name)
    assert options.json_encoder is DRFJSONEncoder


def test_class_attributes_then_keywords():
    assert Tuned.as_asgi().options.max_in_flight == 7
    app = Tuned.as_asgi(max_in_flight=2, eager_streams=True)
    assert app.options.max_in_flight == 2 and app.options.eager_streams is True
    assert Tuned.max_in_flight == 7  # the class is untouched


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_frame_bytes", 0),
        ("max_in_flight", -1),
        ("max_outbound_bytes", 1.5),
        ("max_json_depth", True),
        ("max_bad_frames", 0),
        ("application_close_timeout", 0),
        ("close_timeout", -1),
        ("stream_connect_timeout", "10"),
        ("json_encoder", dict),
    ],
)
def test_invalid_values_name_the_class_and_option(name, value):
    with pytest.raises(ValueError, match=rf"Tuned\.{name} must be"):
        Tuned.as_asgi(**{name: value})


def test_max_bad_frames_none_disables_the_limit():
    assert Tuned.as_asgi(max_bad_frames=None).options.max_bad_frames is None


def test_custom_encoder_is_accepted():
    class Encoder(json.JSONEncoder):
        pass

    assert Tuned.as_asgi(json_encoder=Encoder).options.json_encoder is Encoder
