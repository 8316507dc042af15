"""The demo page in a real browser: browse by links, edit elsewhere, see it live.

Headless Chromium (Debian's /usr/bin/chromium, driven by Playwright for Python)
against the demo served by uvicorn. Two browser contexts are two users' tabs:
an anonymous reader three links deep, and the demo user editing a review the
reader has on screen. The reader's page must update without a reload. The
screenshot of the reader's page is the one docs/DEMO.md shows: `make screenshot`
runs this test with UPDATE_SCREENSHOT=1 to refresh docs/screenshot.png.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.browser import TIMEOUT_MS
from tests.integration.demo_server import (
    REPO_ROOT,
    DemoServer,
    delete_redis_keys,
    free_port,
    run_demo_server,
)
from tests.services import require_redis

pytestmark = pytest.mark.browser

SCREENSHOT = REPO_ROOT / "docs" / "screenshot.png"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    with run_demo_server(tmp_path_factory.mktemp("demo-browser")) as running:
        yield running


def link_hash(link: dict[str, Any]) -> str:
    return "#" + urllib.parse.quote(json.dumps(link, separators=(",", ":")), safe="")


def test_browse_three_links_deep_edit_elsewhere_and_see_it_live(
    browser: Any, server: DemoServer, tmp_path: Path
) -> None:
    # (browser first: without chromium the test skips before starting a server)
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    errors: list[str] = []

    reader_context = browser.new_context(viewport={"width": 1280, "height": 820})
    reader = reader_context.new_page()
    reader.on("pageerror", lambda error: errors.append(str(error)))
    reader.goto(f"{server.url}/")
    expect(reader.locator("#connection")).to_have_text("connected")
    for stream in ("authors", "books", "tags", "reviews", "users", "stats"):
        expect(reader.locator(f'#streams [data-stream="{stream}"]').first).to_be_visible()

    # The stream list, then three links deep: author -> their books -> a book.
    reader.locator('button.stream[data-stream="authors"]').click()
    reader.locator("#list .card h3 a", has_text="Octavia E. Butler").click()  # link 1
    expect(reader.locator("#object h3")).to_have_text("Octavia E. Butler")
    reader.locator('#object tr[data-field="books"] a').click()  # link 2
    reader.locator("#list .card h3 a", has_text="Kindred").click()  # link 3
    expect(reader.locator("#object h3")).to_have_text("Kindred")
    reader.locator('#object tr[data-field="reviews"] a').click()  # link 4: its reviews
    expect(reader.locator("#list .card")).to_have_count(2)

    # Back navigation returns to the book; forward to its reviews, subscribed.
    reader.locator("#back").click()
    expect(reader.locator("#object h3")).to_have_text("Kindred")
    reader.go_forward()
    expect(reader.locator("#list .card")).to_have_count(2)
    expect(reader.locator("#live")).to_be_visible()

    # The demo user signs in in another context (another "tab" with its own session).
    editor_context = browser.new_context(viewport={"width": 1100, "height": 800})
    editor = editor_context.new_page()
    editor.on("pageerror", lambda error: errors.append(str(error)))
    editor.goto(f"{server.url}/accounts/login/")
    editor.fill("#id_username", "demo")
    editor.fill("#id_password", "demo-password")
    editor.click("button[type=submit]")
    expect(editor.locator("#username")).to_have_text("demo")
    demo_id = json.loads(editor.locator("#demo-config").text_content())["user"]["id"]

    # Find the demo user's review among those the reader has on screen.
    card = reader.locator("#list .card").filter(
        has=reader.locator(f'tr[data-field="user"] a:text-is("users #{demo_id}")')
    )
    expect(card).to_have_count(1)
    review_pk = int(card.get_attribute("data-pk"))

    # The editor opens that review by its link (the page's URL hash is a frame).
    link = {"stream": "reviews", "payload": {"action": "retrieve", "pk": review_pk}}
    editor.goto(f"{server.url}/{link_hash(link)}")
    expect(editor.locator("#object h3")).to_be_visible()
    text = "Edited in another tab: still impossible to put down."
    editor.fill('#edit-form textarea[name="text"]', text)
    editor.locator('#edit-form button[type="submit"]').click()
    expect(editor.locator("#edit-form .form-status")).to_have_text("saved")

    # The reader's page changed without a reload.
    expect(card.locator('tr[data-field="text"] td')).to_have_text(text)
    expect(reader.locator("#log-entries li.in").first).to_be_visible()

    # A new review written by the editor appears in the reader's list too.
    book_link = json.loads(card.locator('tr[data-field="book"] a').get_attribute("title"))
    editor.goto(f"{server.url}/{link_hash(book_link)}")
    editor.select_option('#review-form select[name="rating"]', "4")
    editor.fill('#review-form textarea[name="text"]', "Second thoughts, written live.")
    editor.locator('#review-form button[type="submit"]').click()
    expect(editor.locator("#review-form .form-status")).to_have_text("thanks!")
    expect(reader.locator("#list .card")).to_have_count(3)

    assert not errors, errors
    shot = tmp_path / "screenshot.png"
    reader.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
    if os.environ.get("UPDATE_SCREENSHOT"):  # `make screenshot`
        SCREENSHOT.write_bytes(shot.read_bytes())
    editor_context.close()
    reader_context.close()


@pytest.mark.parametrize("layer", ["memory", "redis"])
def test_page_catches_up_after_the_server_restarts_without_reloading(
    browser: Any, tmp_path: Path, layer: str
) -> None:
    """The socket dies with its server process; while no server runs another
    process writes; the page's client reconnects to the new process by itself,
    renews its subscription and shows the write, on the same page (no reload).

    With the in-memory layer the history died with the process: the renewal
    is "not recoverable" and the page reloads its view (a query). With Redis
    the writer's event is in the history there: the new process replays it.
    """
    from playwright.sync_api import expect

    env: dict[str, str] = {}
    if layer == "redis":
        require_redis()
        env = {
            "REDIS_URL": "redis://127.0.0.1:6379/9",
            "REDIS_PREFIX": f"browser-{uuid.uuid4().hex}",
        }
    expect.set_options(timeout=TIMEOUT_MS)
    errors: list[str] = []
    port = free_port()
    first = run_demo_server(tmp_path / "first", port=port, extra_env=env)
    server = first.__enter__()
    try:
        page = browser.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{server.url}/{link_hash({'stream': 'reviews', 'payload': {'action': 'list'}})}")
        page.locator("#list .card h3 a").first.click()
        expect(page.locator("#live")).to_be_visible()
        review_pk = int(page.locator("#object").get_attribute("data-pk"))
        page.evaluate(
            """() => {
              window.__sameDocument = true;
              window.__renewals = [];
              window.demo.client.addEventListener("resubscribed",
                (event) => window.__renewals.push(event.detail.recovered));
            }"""
        )
    finally:
        first.__exit__(None, None, None)
    expect(page.locator("#connection")).to_have_text("reconnecting…")

    # Another process writes while no server runs: nobody can push this event.
    text = f"Written while the server was down ({port})."
    server.manage(
        "shell",
        "-c",
        "from library.models import Review;"
        f"review = Review.objects.get(pk={review_pk}); review.text = {text!r}; review.save()",
    )
    assert text not in page.locator("#object").inner_text()

    try:
        with run_demo_server(
            tmp_path / "second", shared_db=server.db_path, port=port, extra_env=env
        ):
            # The client's backoff is at most 10 s; the restart takes a few.
            expect(page.locator("#connection")).to_have_text("connected", timeout=30_000)
            expect(page.locator('#object tr[data-field="text"] td')).to_have_text(text)
            assert page.evaluate("window.__sameDocument") is True  # not reloaded
            # The subscription was renewed on the new socket, not dropped.
            assert page.evaluate("window.demo.client.subscriptions.size") == 1
            expect(page.locator("#live")).to_be_visible()
            assert page.evaluate("window.__renewals") == [layer == "redis"]
    finally:
        if layer == "redis":
            delete_redis_keys(9, env["REDIS_PREFIX"])
    assert not errors, errors
