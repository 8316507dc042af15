"""The browsable gateway (apidocs) in a real browser, on the demo at /gateway/.

Headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against
the demo served by uvicorn, as in test_demo_browser.py. The page builds its
streams, actions and forms from the demo's AsyncAPI document. An anonymous
reader follows links from reply to reply and subscribes to a review; the demo
user, signed in with the demo's own login in another context, finds that
review by links too and patches it through the form; the reader sees the push.
The anonymous reader's own patch is refused (403): the page acts with the
visitor's permissions. `make screenshot` (UPDATE_SCREENSHOT=1) refreshes
docs/browsable-gateway.png.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.browser import TIMEOUT_MS
from tests.integration.demo_server import REPO_ROOT, DemoServer, run_demo_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOT = REPO_ROOT / "docs" / "browsable-gateway.png"
DEMO_STREAMS = ("authors", "books", "tags", "reviews", "users", "stats")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    with run_demo_server(tmp_path_factory.mktemp("gateway-browser")) as running:
        yield running


def open_page(browser: Any, url: str, errors: list[str], **options: Any) -> Any:
    context = browser.new_context(viewport={"width": 1500, "height": 900}, **options)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    return page


def pick(page: Any, stream: str, action: str) -> None:
    group = page.locator(f'#streams details[data-stream="{stream}"]')
    if group.get_attribute("open") is None:
        group.locator("summary").click()
    page.locator(f'button.action[data-stream="{stream}"][data-action="{action}"]').click()
    from playwright.sync_api import expect

    expect(page.locator("#composer-title")).to_contain_text(f"{stream} · {action}")


def send(page: Any, status: str) -> None:
    from playwright.sync_api import expect

    page.locator("#send").click()
    expect(page.locator("#reply-status")).to_have_text(status)


def replied(page: Any, stream: str, action: str, status: str = "200") -> None:
    """Wait for the reply to this very request (the page clears the last one on send)."""
    from playwright.sync_api import expect

    expect(page.locator("#reply-action")).to_have_text(f"{stream} · {action}")
    expect(page.locator("#reply-status")).to_have_text(status)


def test_browse_follow_links_subscribe_and_see_another_users_patch(
    browser: Any, server: DemoServer, tmp_path: Path
) -> None:
    # (browser first: without chromium the test skips before starting a server)
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    errors: list[str] = []

    # An anonymous reader: every stream and action of the document is offered.
    reader = open_page(browser, f"{server.url}/gateway/", errors)
    expect(reader.locator("#connection")).to_have_text("connected")
    expect(reader.locator("body[data-ready=true]")).to_have_count(1)
    document = json.loads(reader.request.get(f"{server.url}/gateway/asyncapi.json").text())
    for stream in DEMO_STREAMS:
        expect(reader.locator(f'#streams details[data-stream="{stream}"]')).to_have_count(1)
    offered = reader.locator("button.action").count()
    receive_operations = [op for op in document["operations"].values() if op["action"] == "receive"]
    assert offered == len(receive_operations)
    assert reader.locator("#login").is_visible()

    # The users list, filtered through the form built from the schema.
    pick(reader, "users", "list")
    reader.fill('#action-form [data-field="username"] input', "demo")
    expect(reader.locator("#frame-preview")).to_have_text(
        '{"stream":"users","payload":{"action":"list","username":"demo"}}'
    )
    send(reader, "200")
    # Link 1: the demo user's reviews (a list link); link 2: the first review.
    reader.locator('#reply-data tr[data-key="reviews"] a.link').first.click()
    expect(reader.locator("#composer-title")).to_contain_text("reviews · list")
    replied(reader, "reviews", "list")
    review_link = reader.locator('#reply-data tr[data-key="@id"] a.link').first
    link = json.loads(review_link.get_attribute("data-link"))
    assert link["stream"] == "reviews" and link["payload"]["action"] == "retrieve"
    review_link.click()
    expect(reader.locator("#composer-title")).to_contain_text("reviews · retrieve")
    replied(reader, "reviews", "retrieve")
    expect(reader.locator('#action-form [data-field="pk"] input')).to_have_value(
        str(link["payload"]["pk"])
    )
    expect(reader.locator('#reply-data tr[data-key="text"]')).to_be_visible()

    # Subscribe to that review, with a snapshot (a boolean: a select).
    pick(reader, "reviews", "subscribe_instance")
    reader.fill('#action-form [data-field="pk"] input', str(link["payload"]["pk"]))
    reader.select_option('#action-form [data-field="snapshot"] select', "true")
    send(reader, "201")
    expect(reader.locator('#reply-data tr[data-key="@id"] a.link')).to_have_attribute(
        "data-link", json.dumps(link, separators=(",", ":"))
    )
    expect(reader.locator("#subscriptions li.subscription")).to_have_count(1)

    # Anonymous visitors may not write: the gateway's answer is shown as it is.
    pick(reader, "reviews", "patch")
    reader.fill('#action-form [data-field="pk"] input', str(link["payload"]["pk"]))
    reader.fill('#action-form [data-field="data"] [data-field="text"] input', "vandalism")
    send(reader, "403")
    expect(reader.locator("#reply-errors")).to_be_visible()

    # The demo user signs in with the demo's own login page and comes back.
    editor = open_page(browser, f"{server.url}/accounts/login/?next=/gateway/", errors)
    editor.fill("#id_username", "demo")
    editor.fill("#id_password", "demo-password")
    editor.click("button[type=submit]")
    expect(editor.locator("#username")).to_have_text("demo")
    expect(editor.locator("#connection")).to_have_text("connected")
    expect(editor.locator("body[data-ready=true]")).to_have_count(1)
    pick(editor, "reviews", "patch")
    editor.fill('#action-form [data-field="pk"] input', str(link["payload"]["pk"]))
    # Markup in data is shown as text, never run: the page builds no HTML from replies.
    text = 'Patched from the browsable gateway <img src=x onerror="window.pwned=1">'
    editor.fill('#action-form [data-field="data"] [data-field="text"] input', text)
    send(editor, "200")
    expect(editor.locator('#reply-data tr[data-key="text"] td')).to_have_text(json.dumps(text))

    # The reader's subscription pushed the change.
    push = reader.locator("#pushes li.push").first
    expect(push).to_contain_text("reviews · update 200")
    expect(push.locator('tr[data-key="text"] td')).to_have_text(json.dumps(text))
    # Every frame both ways is in the log: five requests, five replies, one push.
    expect(reader.locator("#log li.out")).to_have_count(5)
    expect(reader.locator("#log li.in")).to_have_count(6)
    expect(reader.locator("#log-count")).to_have_text("11")

    # Unsubscribing ends it.
    reader.locator("#subscriptions button.unsubscribe").click()
    expect(reader.locator("#subscriptions li.subscription")).to_have_count(0)
    replied(reader, "reviews", "unsubscribe_instance", "204")

    assert reader.evaluate("window.pwned") is None
    assert editor.evaluate("window.pwned") is None
    assert not errors, errors
    shot = tmp_path / "browsable-gateway.png"
    # The editor's page after a patch: a form, a reply with links, the log.
    editor.evaluate("window.scrollTo(0, 0)")
    editor.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("UPDATE_SCREENSHOT"):  # `make screenshot`
        SCREENSHOT.write_bytes(shot.read_bytes())
    reader.context.close()
    editor.context.close()


def test_a_link_in_the_address_opens_its_action(browser: Any, server: DemoServer) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    errors: list[str] = []
    page = open_page(browser, f"{server.url}/gateway/#books/top_rated", errors)
    expect(page.locator("#composer-title")).to_contain_text("books · top_rated")
    # top_rated's limit is described by @action(asyncapi=...) in the demo.
    field = page.locator('#action-form [data-field="limit"]')
    expect(field).to_have_attribute("data-kind", "number")
    page.fill('#action-form [data-field="limit"] input', "2")
    send(page, "200")
    expect(page.locator("#reply-data > ol.array > li")).to_have_count(2)
    # Keys the schema does not list (top_rated takes **kwargs: the filters).
    page.fill('#action-form [data-field="(more keys)"] textarea', '{"title": "No such book"}')
    expect(page.locator("#frame-preview")).to_have_text(
        '{"stream":"books","payload":{"action":"top_rated","limit":2,"title":"No such book"}}'
    )
    send(page, "200")
    expect(page.locator("#reply-data")).to_have_text("[]")
    # A malformed JSON field is reported in the form, and nothing is sent.
    page.fill('#action-form [data-field="(more keys)"] textarea', "{not json")
    sent = page.locator("#log li.out").count()
    page.locator("#send").click()
    expect(page.locator("#form-status")).not_to_be_empty()
    assert page.locator("#log li.out").count() == sent
    assert not errors, errors
    page.context.close()
