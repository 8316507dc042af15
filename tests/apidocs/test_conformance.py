"""The document describes what the wire really carries.

Real frames, sent to and received from ShowcaseGateway through the gateway
(requests, replies of every kind, a streamed list's pages, a subscription's
push, error replies, a gateway error frame), are validated with Ajv (JSON
Schema draft 7, the document's payload format) against the messages of the
document generated for that gateway. A schema that is wrong about a field's
type, a required key or a status fails here.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apidocs.document import build_document
from gateway.testing import GatewayCommunicator
from tests.apidocs.parser import NODE_DIR, node_with_parser
from tests.apidocs.support import ShowcaseGateway
from tests.testapp.models_streams import StreamsAuthor, StreamsBook

pytestmark = [pytest.mark.interop, pytest.mark.django_db(transaction=True)]

__all__ = ["node_with_parser"]


def message(channel: str, name: str) -> str:
    return f"#/channels/{channel}/messages/{name}"


class Recorder:
    """Sends requests through a GatewayCommunicator and records (message ref, frame) cases."""

    def __init__(self, comm: GatewayCommunicator) -> None:
        self.comm = comm
        self.cases: list[dict[str, Any]] = []
        self.request_id = 0

    async def call(
        self, stream: str, action: str, reply: str | None = None, known: bool = True, **params: Any
    ) -> Any:
        """Send ``action``; record the request (when the document has it) and the answer."""
        self.request_id += 1
        payload = {"action": action, "request_id": self.request_id, **params}
        if known:
            self.cases.append(
                {
                    "ref": message(stream, f"{action}_request"),
                    "frame": {"stream": stream, "payload": payload},
                }
            )
        await self.comm.send_to(stream, payload)
        answer = await self.comm.receive_from(stream, request_id=self.request_id, timeout=5)
        self.expect(stream, reply or f"{action}_reply", answer)
        return answer

    def expect(self, stream: str, name: str, payload: Any) -> None:
        self.cases.append(
            {"ref": message(stream, name), "frame": {"stream": stream, "payload": payload}}
        )


def conform(
    node: str, document: dict[str, Any], cases: list[dict[str, Any]], tmp: Path
) -> list[Any]:
    doc_file, cases_file = tmp / "asyncapi.json", tmp / "cases.json"
    doc_file.write_text(json.dumps(document))
    cases_file.write_text(json.dumps(cases))
    result = subprocess.run(
        [node, "conform.js", str(doc_file), str(cases_file)],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


async def test_real_frames_match_the_documents_schemas(
    node_with_parser: str, tmp_path: Path
) -> None:
    author = await sync_to_async(StreamsAuthor.objects.create)(name="Ann")
    await sync_to_async(StreamsBook.objects.create)(
        title="First", slug="first", pages=10, author=author
    )
    async with GatewayCommunicator(ShowcaseGateway.as_asgi()) as comm:
        rec = Recorder(comm)
        created = await rec.call(
            "books",
            "create",
            data={"title": "Dune", "slug": "dune", "pages": 412, "secret": "s"},
        )
        assert created["response_status"] == 201
        await rec.call("books", "retrieve", slug="dune")
        await rec.call("books", "patch", slug="dune", data={"pages": 500, "author": author.pk})
        await rec.call(
            "books",
            "update",
            slug="dune",
            data={"title": "Dune", "slug": "dune", "published": None},
        )
        # A streamed list: one reply per page, all with the request's id.
        first_page = await rec.call("books", "list", limit=1, ordering="title", search="")
        assert first_page["data"]["last"] is False
        second = await comm.receive_from("books", request_id=rec.request_id, timeout=5)
        rec.expect("books", "list_reply", second)
        await rec.call("books", "count_pages", minimum=1)
        await rec.call("books", "shout", word="hi")
        await rec.call("books", "retrieve", reply="error", slug="no-such-book")
        await rec.call("books", "no_such_action", reply="error", known=False)
        await rec.call("books", "delete", slug="dune")
        await rec.call("clock", "now")
        await rec.call("ping", "retrieve")
        # A subscription and its push.
        await rec.call("live-authors", "subscribe_instance", pk=author.pk, snapshot=True)
        author.name = "Ann Leckie"
        await sync_to_async(author.save)()
        push = await comm.receive_from("live-authors", request_id=rec.request_id, timeout=5)
        assert push["action"] == "update"
        rec.expect("live-authors", "subscribe_instance_push_update", push)
        await rec.call("live-authors", "unsubscribe_instance", pk=author.pk)
        # The gateway's own error frame, for a stream that does not exist.
        await comm.send_to("nope", {"action": "list", "request_id": 99})
        frame = await comm.receive_frame(timeout=5)
        rec.cases.append({"ref": message("gateway", "gatewayError"), "frame": frame})
        rec.cases.append({"ref": message("books", "gatewayError"), "frame": frame})
    results = conform(node_with_parser, build_document(ShowcaseGateway), rec.cases, tmp_path)
    assert len(results) == len(rec.cases) >= 30
    invalid = [
        (case, result)
        for case, result in zip(rec.cases, results, strict=True)
        if not result["valid"]
    ]
    assert not invalid, json.dumps(invalid, indent=1)[:6000]


async def test_a_frame_the_document_does_not_allow_is_caught(
    node_with_parser: str, tmp_path: Path
) -> None:
    # The check is not vacuous: wrong types, a missing key, a wrong status fail.
    cases = [
        {
            "ref": message("books", "retrieve_request"),
            "frame": {"stream": "books", "payload": {"action": "retrieve"}},
        },
        {
            "ref": message("books", "retrieve_request"),
            "frame": {"stream": "tags", "payload": {"action": "retrieve", "slug": "x"}},
        },
        {
            "ref": message("books", "create_reply"),
            "frame": {
                "stream": "books",
                "payload": {
                    "errors": [],
                    "data": {"id": "1"},
                    "action": "create",
                    "response_status": 201,
                    "request_id": 1,
                },
            },
        },
        {
            "ref": message("books", "delete_reply"),
            "frame": {
                "stream": "books",
                "payload": {
                    "errors": [],
                    "data": None,
                    "action": "delete",
                    "response_status": 200,
                    "request_id": 1,
                },
            },
        },
        {
            "ref": message("books", "count_pages_request"),
            "frame": {"stream": "books", "payload": {"action": "count_pages", "minimum": "ten"}},
        },
    ]
    results = conform(node_with_parser, build_document(ShowcaseGateway), cases, tmp_path)
    assert [result["valid"] for result in results] == [False] * len(cases)


async def test_resumable_subscription_frames_of_the_protocol_match(
    node_with_parser: str, tmp_path: Path
) -> None:
    # docs/PROTOCOL.md's frames for observers that keep a history: a push with
    # its position, a subscribe that resumes, the replies to it.
    position = {"group": "3f1c9a0b5e2d4c77", "epoch": "9b1e0c2f4a6d", "offset": 18}
    author = {"id": 3, "name": "Ann"}
    stream = "live-authors"
    cases = [
        {
            "ref": message(stream, "subscribe_instance_push_update"),
            "frame": {
                "stream": stream,
                "payload": {
                    "errors": [],
                    "data": author,
                    "action": "update",
                    "response_status": 200,
                    "request_id": "sub-1",
                    "position": position,
                },
            },
        },
        {
            "ref": message(stream, "subscribe_instance_request"),
            "frame": {
                "stream": stream,
                "payload": {
                    "action": "subscribe_instance",
                    "pk": 3,
                    "request_id": "sub-1",
                    "resume": {"3f1c9a0b5e2d4c77": ["9b1e0c2f4a6d", 18]},
                },
            },
        },
        {
            "ref": message(stream, "subscribe_instance_reply"),
            "frame": {
                "stream": stream,
                "payload": {
                    "errors": [],
                    "data": None,
                    "action": "subscribe_instance",
                    "response_status": 201,
                    "request_id": "sub-1",
                    "positions": [position],
                    "resume": {"recovered": True, "reason": None},
                },
            },
        },
        {
            "ref": message(stream, "subscribe_instance_reply"),
            "frame": {
                "stream": stream,
                "payload": {
                    "errors": [],
                    "data": author,
                    "action": "subscribe_instance",
                    "response_status": 201,
                    "request_id": "sub-1",
                    "positions": [position],
                    "resume": {"recovered": False, "reason": "expired"},
                },
            },
        },
    ]
    # ...and what the protocol refuses: a resume that is not [epoch, offset].
    bad = {
        "ref": message(stream, "subscribe_instance_request"),
        "frame": {
            "stream": stream,
            "payload": {"action": "subscribe_instance", "pk": 3, "resume": {"g": [1, "x"]}},
        },
    }
    results = conform(node_with_parser, build_document(ShowcaseGateway), [*cases, bad], tmp_path)
    assert [result["valid"] for result in results] == [True] * len(cases) + [False], results
