"""The demo project served for real (uvicorn, demo settings) and used over its socket.

The checks a newcomer's first session depends on: seed and migrations, the
page, browsing by links, permissions, live updates between two connections,
the custom action and the view mounted with view_as_consumer.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.integration.demo_server import (
    DemoServer,
    DemoSocket,
    delete_redis_keys,
    demo_env,
    login_cookie,
    manage,
    run_demo_server,
    seeded_database,
)
from tests.services import require_postgres, require_redis

STREAMS = {"authors", "books", "tags", "reviews", "users", "stats"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    with run_demo_server(tmp_path_factory.mktemp("demo-server")) as running:
        yield running


@pytest.fixture(scope="module")
def demo_cookie(server: DemoServer) -> str:
    return login_cookie(server, "demo", "demo-password")


def get(server: DemoServer, path: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(f"{server.url}{path}", timeout=10) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read().decode()


# ------------------------------------------------------------------ project
def test_seed_demo_is_idempotent(server: DemoServer) -> None:
    output = server.manage("seed_demo").stdout
    assert "(0 objects created)" in output
    assert "demo / demo-password" in output


def test_migrations_match_the_models(server: DemoServer) -> None:
    server.manage("makemigrations", "--check", "--dry-run", "library")


def test_page_shows_the_demoplexer_streams(server: DemoServer) -> None:
    status, content_type, html = get(server, "/")
    assert status == 200 and content_type.startswith("text/html")
    match = re.search(
        r'<script id="demo-config" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, "the page carries no stream configuration"
    config = json.loads(match.group(1))
    assert set(config["streams"]) == STREAMS
    assert {"list", "retrieve", "subscribe_instance", "subscribe_list", "top_rated"} <= set(
        config["streams"]["books"]["actions"]
    )
    assert config["user"] == {"authenticated": False, "username": None, "id": None}
    assert 'type="module"' in html and "/accounts/login/" in html


def test_page_scripts_are_served(server: DemoServer) -> None:
    # The client is the gateway package's own static file, found by the page
    # through its import map.
    for path in ("library/app.js", "library/app.css", "gateway/client.js", "gateway/client.d.ts"):
        status, content_type, body = get(server, f"/static/{path}")
        assert status == 200 and body, path
        if path.endswith((".js", ".css")):
            expected = "text/css" if path.endswith(".css") else "javascript"
            assert expected in content_type
    _, _, html = get(server, "/")
    assert '"channels-gateway": "/static/gateway/client.js"' in html


# ----------------------------------------------------------------- browsing
def test_readiness_is_served(server: DemoServer) -> None:
    status, content_type, body = get(server, "/ready/")
    assert (status, content_type) == (200, "application/json")
    checks = json.loads(body)["checks"]
    assert checks["database:default"]["status"] == "ok"
    assert checks["channel_layer:default"]["status"] == "ok"


async def test_metrics_are_served_and_count_the_socket(server: DemoServer) -> None:
    async with DemoSocket.open(server) as socket:
        await socket.request("authors", {"action": "list"})
        status, content_type, body = get(server, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    assert 'gateway_connections_open{gateway="Demoplexer"} 1.0' in body
    assert 'gateway_frames_in_total{action="list",stream="authors"}' in body


async def test_browse_authors_books_reviews_users_by_links(server: DemoServer) -> None:
    async with DemoSocket.open(server) as ws:
        authors = await ws.request("authors", {"action": "list"})
        assert authors["response_status"] == 200
        author = next(a for a in authors["data"] if a["name"] == "Octavia E. Butler")
        assert author["books"] == {
            "stream": "books",
            "payload": {"action": "list", "author": author["id"]},
        }

        books = await ws.follow(author["books"])  # link 1: the author's books
        assert {b["title"] for b in books["data"]} == {"Kindred", "Parable of the Sower"}
        book = next(b for b in books["data"] if b["title"] == "Kindred")

        reviews = await ws.follow(book["reviews"])  # link 2: the book's reviews
        assert len(reviews["data"]) == 2
        assert all(r["book"]["payload"]["pk"] == book["id"] for r in reviews["data"])

        user = await ws.follow(reviews["data"][0]["user"])  # link 3: a reviewer
        assert user["response_status"] == 200
        assert set(user["data"]) == {"@id", "id", "username", "reviews"}

        theirs = await ws.follow(user["data"]["reviews"])  # and on, to their reviews
        assert theirs["data"] and all(
            r["user"]["payload"]["pk"] == user["data"]["id"] for r in theirs["data"]
        )

        again = await ws.follow(book["@id"])
        assert again["data"]["title"] == "Kindred"
        tags = await ws.follow(book["tags"])
        assert {t["name"] for t in tags["data"]} == {"science-fiction", "history"}


# -------------------------------------------------------------- permissions
async def test_anonymous_users_read_but_do_not_write(server: DemoServer) -> None:
    async with DemoSocket.open(server) as ws:
        book = (await ws.request("books", {"action": "list", "title": "Kindred"}))["data"][0]
        reply = await ws.request(
            "reviews", {"action": "create", "data": {"book": book["id"], "rating": 5}}
        )
        assert reply["response_status"] == 403
        reply = await ws.request(
            "books", {"action": "patch", "pk": book["id"], "data": {"title": "x"}}
        )
        assert reply["response_status"] == 403


async def test_signed_in_users_write_only_their_own_reviews(
    server: DemoServer, demo_cookie: str
) -> None:
    async with DemoSocket.open(server, demo_cookie) as ws:
        book = (await ws.request("books", {"action": "list", "title": "Ficciones"}))["data"][0]
        created = await ws.request(
            "reviews",
            {"action": "create", "data": {"book": book["@id"], "rating": 4, "text": "labyrinths"}},
        )
        assert created["response_status"] == 201, created
        assert created["data"]["user"]["stream"] == "users"
        me = await ws.follow(created["data"]["user"])
        assert me["data"]["username"] == "demo"

        patched = await ws.request(
            "reviews", {"action": "patch", "pk": created["data"]["id"], "data": {"rating": 5}}
        )
        assert patched["response_status"] == 200 and patched["data"]["rating"] == 5

        others = await ws.request("reviews", {"action": "list", "book": book["id"]})
        alices = [r for r in others["data"] if r["user"]["payload"]["pk"] != me["data"]["id"]]
        assert alices
        refused = await ws.request(
            "reviews", {"action": "patch", "pk": alices[0]["id"], "data": {"text": "mine"}}
        )
        assert refused["response_status"] == 403

        # The catalogue is staff-only, even for signed-in users.
        refused = await ws.request("books", {"action": "delete", "pk": book["id"]})
        assert refused["response_status"] == 403

        deleted = await ws.request("reviews", {"action": "delete", "pk": created["data"]["id"]})
        assert deleted["response_status"] == 204


# --------------------------------------------------------------- live data
async def test_subscriptions_see_writes_from_another_connection(
    server: DemoServer, demo_cookie: str
) -> None:
    async with DemoSocket.open(server) as watcher, DemoSocket.open(server, demo_cookie) as writer:
        books = (await watcher.request("books", {"action": "list"}))["data"]
        book = next(b for b in books if b["title"] == "Invisible Cities")
        other = next(b for b in books if b["title"] == "Ficciones")

        list_sub = await watcher.request(
            "reviews", {"action": "subscribe_list", "book": book["id"]}
        )
        assert list_sub["response_status"] in (200, 201), list_sub

        # A review of another book is outside the subscribed list...
        elsewhere = await writer.request(
            "reviews", {"action": "create", "data": {"book": other["id"], "rating": 3}}
        )
        assert elsewhere["response_status"] == 201
        created = await writer.request(
            "reviews", {"action": "create", "data": {"book": book["id"], "rating": 4, "text": "a"}}
        )
        assert created["response_status"] == 201
        pk = created["data"]["id"]

        # ...so the first event is the review of the subscribed book.
        event = await watcher.event("reviews", list_sub["request_id"])
        assert (event["action"], event["data"]["id"]) == ("create", pk)

        instance_sub = await watcher.request("reviews", {"action": "subscribe_instance", "pk": pk})
        assert instance_sub["response_status"] in (200, 201)

        await writer.request("reviews", {"action": "patch", "pk": pk, "data": {"text": "b"}})
        event = await watcher.event("reviews", list_sub["request_id"])
        assert (event["action"], event["data"]["text"]) == ("update", "b")
        event = await watcher.event("reviews", instance_sub["request_id"])
        assert (event["action"], event["data"]["text"]) == ("update", "b")

        await writer.request("reviews", {"action": "delete", "pk": pk})
        event = await watcher.event("reviews", list_sub["request_id"])
        assert event["action"] == "delete" and event["data"]["pk"] == pk
        event = await watcher.event("reviews", instance_sub["request_id"])
        assert event["action"] == "delete" and event["data"]["pk"] == pk

        await writer.request("reviews", {"action": "delete", "pk": elsewhere["data"]["id"]})


# ------------------------------------------------- custom action, DRF view
async def test_custom_action_top_rated(server: DemoServer) -> None:
    async with DemoSocket.open(server) as ws:
        reply = await ws.request("books", {"action": "top_rated", "limit": 2})
        assert reply["response_status"] == 200
        ratings = [book["average_rating"] for book in reply["data"]]
        assert len(ratings) == 2 and ratings == sorted(ratings, reverse=True)
        bad = await ws.request("books", {"action": "top_rated", "limit": "lots"})
        assert bad["response_status"] == 400 and "limit" in bad["errors"][0]


async def test_drf_view_over_the_socket_sees_the_user(server: DemoServer, demo_cookie: str) -> None:
    _, _, http_body = get(server, "/api/stats/")
    async with DemoSocket.open(server, demo_cookie) as ws:
        reply = await ws.request("stats", {"action": "retrieve"})
    assert reply["response_status"] == 200
    assert reply["data"]["you"] == "demo"
    over_http = json.loads(http_body)
    assert over_http["you"] is None
    assert {k: v for k, v in reply["data"].items() if k != "you"} == {
        k: v for k, v in over_http.items() if k != "you"
    }


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("stream", "payload", "status"),
    [
        ("nowhere", {"action": "list"}, 404),
        ("books", {"action": "no_such_action"}, 405),
        ("books", {"action": "retrieve", "pk": 987654321}, 404),
        ("books", {"action": "retrieve", "pk": "abc"}, 404),
        ("books", {"action": "list", "author": {"$gt": 1}}, 400),
        ("reviews", {"action": "subscribe_instance", "pk": 987654321}, 404),
    ],
)
async def test_bad_requests_get_error_replies_and_the_socket_lives(
    server: DemoServer, stream: str, payload: dict[str, object], status: int
) -> None:
    async with DemoSocket.open(server) as ws:
        reply = await ws.request(stream, payload)
        assert reply["response_status"] == status
        assert reply["errors"]
        still = await ws.request("tags", {"action": "list"})
        assert still["response_status"] == 200


# ------------------------------------------------------ several processes
@contextmanager
def postgres_database(suffix: str = "") -> Iterator[str]:
    """A fresh PostgreSQL database for this test run; its DATABASE_URL."""
    import psycopg

    name = f"demo_test_{os.getpid()}{suffix}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.redis
@pytest.mark.postgres
async def test_two_server_processes_on_postgres_and_redis(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The documented production set-up: DATABASE_URL (PostgreSQL) and REDIS_URL
    set, two uvicorn processes; migrate and seed_demo work there, and an edit
    through one process reaches a subscriber on the other."""
    require_redis()
    require_postgres()
    directory = tmp_path_factory.mktemp("demo-postgres")
    with postgres_database() as database_url:
        env = {"REDIS_URL": "redis://127.0.0.1:6379/8", "DATABASE_URL": database_url}
        setup_env = {**demo_env(directory / "unused.sqlite3"), **env}
        manage(setup_env, "migrate", "--noinput")
        manage(setup_env, "seed_demo")
        assert "(0 objects created)" in manage(setup_env, "seed_demo").stdout
        with (
            run_demo_server(
                directory / "a", shared_db=directory / "unused.sqlite3", extra_env=env
            ) as first,
            run_demo_server(
                directory / "b", shared_db=directory / "unused.sqlite3", extra_env=env
            ) as second,
        ):
            await _edit_in_one_process_seen_in_the_other(first, second, "on PostgreSQL")


@pytest.mark.redis
async def test_two_server_processes_behind_redis_share_live_updates(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The documented deployment: REDIS_URL set, several uvicorn processes. An
    edit through one process reaches a subscriber connected to the other."""
    require_redis()
    directory = tmp_path_factory.mktemp("demo-redis")
    database = seeded_database(directory)
    # A database of its own on the Redis server keeps other tests' groups apart.
    env = {"REDIS_URL": "redis://127.0.0.1:6379/7"}
    with (
        run_demo_server(directory / "a", shared_db=database, extra_env=env) as first,
        run_demo_server(directory / "b", shared_db=database, extra_env=env) as second,
    ):
        await _edit_in_one_process_seen_in_the_other(first, second, "via Redis")


async def _edit_in_one_process_seen_in_the_other(
    first: DemoServer, second: DemoServer, text: str
) -> None:
    cookie = login_cookie(second, "demo", "demo-password")
    async with DemoSocket.open(first) as watcher, DemoSocket.open(second, cookie) as writer:
        users = await writer.request("users", {"action": "list", "username": "demo"})
        mine = await writer.request("reviews", {"action": "list", "user": users["data"][0]["id"]})
        review = mine["data"][0]
        sub = await watcher.request("reviews", {"action": "subscribe_instance", "pk": review["id"]})
        assert sub["response_status"] == 201
        patched = await writer.request(
            "reviews", {"action": "patch", "pk": review["id"], "data": {"text": text}}
        )
        assert patched["response_status"] == 200, patched
        event = await watcher.event("reviews", sub["request_id"], wait=10)
        assert (event["action"], event["data"]["text"]) == ("update", text)


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.slow
async def test_a_subscriber_resumes_on_another_process_with_exactly_what_it_missed(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """PostgreSQL, Redis and two uvicorn processes. A subscriber on the first
    process sees one edit and leaves; two more edits are made through the
    second; the subscriber comes back to the *second* process with the
    position it had and gets exactly the two it missed, in order, from the
    history the writing process appended to in Redis."""
    require_redis()
    require_postgres()
    directory = tmp_path_factory.mktemp("demo-resume")
    prefix = f"demo-resume-{uuid.uuid4().hex}"
    with postgres_database("resume") as database_url:
        env = {
            "REDIS_URL": "redis://127.0.0.1:6379/8",
            "REDIS_PREFIX": prefix,
            "DATABASE_URL": database_url,
        }
        setup_env = {**demo_env(directory / "unused.sqlite3"), **env}
        manage(setup_env, "migrate", "--noinput")
        manage(setup_env, "seed_demo")
        unused = directory / "unused.sqlite3"
        try:
            with (
                run_demo_server(directory / "a", shared_db=unused, extra_env=env) as first,
                run_demo_server(directory / "b", shared_db=unused, extra_env=env) as second,
            ):
                await _resume_on_the_other_process(first, second)
        finally:
            delete_redis_keys(8, prefix)


async def _resume_on_the_other_process(first: DemoServer, second: DemoServer) -> None:
    cookie = login_cookie(second, "demo", "demo-password")
    async with DemoSocket.open(second, cookie) as writer:
        users = await writer.request("users", {"action": "list", "username": "demo"})
        mine = await writer.request("reviews", {"action": "list", "user": users["data"][0]["id"]})
        pk = mine["data"][0]["id"]

        async def edit(text: str) -> None:
            reply = await writer.request(
                "reviews", {"action": "patch", "pk": pk, "data": {"text": text}}
            )
            assert reply["response_status"] == 200, reply

        async with DemoSocket.open(first) as watcher:
            sub = await watcher.request("reviews", {"action": "subscribe_instance", "pk": pk})
            assert sub["response_status"] == 201 and len(sub["positions"]) == 1
            await edit("seen")
            seen = await watcher.event("reviews", sub["request_id"], wait=10)
            assert seen["data"]["text"] == "seen"
        await edit("missed 1")
        await edit("missed 2")

    position = seen["position"]
    async with DemoSocket.open(second) as back:
        reply = await back.request(
            "reviews",
            {
                "action": "subscribe_instance",
                "pk": pk,
                "resume": {position["group"]: [position["epoch"], position["offset"]]},
            },
        )
        assert reply["response_status"] == 201
        assert reply["resume"] == {"recovered": True, "reason": None}
        assert reply["data"] is None
        missed = [await back.event("reviews", reply["request_id"], wait=10) for _ in range(2)]
        assert [event["data"]["text"] for event in missed] == ["missed 1", "missed 2"]
        assert [event["position"]["offset"] for event in missed] == [
            position["offset"] + 1,
            position["offset"] + 2,
        ]
        assert {event["position"]["epoch"] for event in missed} == {position["epoch"]}


def logout(server: DemoServer, cookie: str) -> None:
    """Press the page's "log out" button (a POST with the page's CSRF token)."""
    opener = urllib.request.build_opener()
    opener.addheaders = [("Cookie", cookie)]
    page = opener.open(f"{server.url}/", timeout=10).read().decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match, "the page has no logout form"
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": match.group(1)}).encode()
    request = urllib.request.Request(
        f"{server.url}/accounts/logout/", data=body, headers={"Referer": f"{server.url}/"}
    )
    opener.open(request, timeout=10).read()


async def test_logging_out_closes_the_users_sockets(server: DemoServer) -> None:
    import asyncio

    from websockets.exceptions import ConnectionClosed

    cookie = login_cookie(server, "demo", "demo-password")  # a session of its own
    async with DemoSocket.open(server, cookie) as ws:
        assert (await ws.request("books", {"action": "list"}))["response_status"] == 200
        await asyncio.to_thread(logout, server, cookie)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.connection.recv(), 10)
        assert closed.value.rcvd is not None
        # The code is what counts: daphne does not pass close reasons on (uvicorn,
        # which serves the demo, does: tests/integration/test_auth_redis.py).
        assert closed.value.rcvd.code == 4401
