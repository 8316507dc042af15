"""Frame decoding and encoding."""

from __future__ import annotations

import json
import time

import pytest

from gateway.frames import (
    ECHO_LIMIT,
    FrameError,
    decode_frame,
    encode_error,
    encode_frame,
    nesting_exceeds,
    readable_meta,
    sniff_stream,
    splice_frame,
)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("{}", 1, False),
        ("[[]]", 1, True),
        ("[[]]", 2, False),
        ('{"a": [1, {"b": []}]}', 4, False),
        ('{"a": [1, {"b": []}]}', 3, True),
        ('["[[[[[[", "{{{{{"]', 1, False),  # brackets inside strings do not count
        (r'["\"[[[[", "]"]', 1, False),  # nor after escaped quotes
        ("[]" * 1000, 1, False),  # wide is not deep
        ("[{[{[{}]}]}]", 5, True),  # alternating kinds count one level each
        ("[{[{[{}]}]}]", 6, False),
    ],
)
def test_nesting_exceeds(text: str, limit: int, expected: bool):
    assert nesting_exceeds(text, limit) is expected


def test_nesting_check_is_cheap_on_hostile_input():
    deep = "[" * 500_000 + "]" * 500_000
    started = time.monotonic()
    assert nesting_exceeds(deep, 64)
    assert time.monotonic() - started < 1


def test_decode_frame_reads_meta():
    frame = decode_frame(
        '{"stream": "s", "payload": {"action": "a", "request_id": [1]}}', max_depth=8
    )
    assert frame.stream == "s"
    assert frame.payload == {"action": "a", "request_id": [1]}
    assert (frame.action, frame.request_id) == ("a", None)  # a list is not echoed


def test_decode_frame_errors_carry_what_can_be_echoed():
    with pytest.raises(FrameError) as info:
        decode_frame('{"payload": {"action": "a", "request_id": 1}}', max_depth=8)
    assert (info.value.status, info.value.stream, info.value.action) == (400, None, "a")
    assert info.value.request_id == 1
    with pytest.raises(FrameError) as info:
        decode_frame('{"stream": "' + "s" * (ECHO_LIMIT + 1) + '"}', max_depth=8)
    assert info.value.stream is None


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"action": "a", "request_id": "r"}, ("a", "r")),
        ({"action": 1, "request_id": 1.5}, (None, 1.5)),
        ({"request_id": True}, (None, True)),
        ({"request_id": float("nan")}, (None, None)),
        ({"request_id": {"a": 1}}, (None, None)),
        ({"request_id": "r" * (ECHO_LIMIT + 1)}, (None, None)),
        ([1], (None, None)),
    ],
)
def test_readable_meta(payload, expected):
    assert readable_meta(payload) == expected


def test_sniff_stream_reads_only_a_leading_stream_key():
    assert sniff_stream('{"stream": "books", "payload": ' + "x" * 10_000) == "books"
    assert sniff_stream('{"payload": {"stream": "inner"}, "stream": "books"}') is None
    assert sniff_stream("x" * 1000 + '{"stream": "books"}') is None


def test_encoders():
    assert json.loads(encode_error("s", "bad", 400, "a", 1)) == {
        "stream": "s",
        "payload": {
            "errors": ["bad"],
            "data": None,
            "action": "a",
            "response_status": 400,
            "request_id": 1,
        },
    }
    assert json.loads(encode_frame("s", {"x": 1}, json.JSONEncoder)) == {
        "stream": "s",
        "payload": {"x": 1},
    }


def test_splice_frame():
    text = '{"data": "\\u00e9", "n": 1}'
    spliced = splice_frame('we"ird', text)
    assert spliced is not None and text in spliced  # carried verbatim
    assert json.loads(spliced) == {"stream": 'we"ird', "payload": {"data": "é", "n": 1}}
    assert json.loads(splice_frame("s", " [1] ") or "") == {"stream": "s", "payload": [1]}
    assert splice_frame("s", "hello") is None
    assert splice_frame("s", "NaN") is None
