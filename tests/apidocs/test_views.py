"""apidocs.views and apidocs.urls: the document as JSON and the browsable page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

pytestmark = pytest.mark.urls("tests.apidocs.urls")


def test_the_document_view_serves_json_with_the_requests_host(client: Any) -> None:
    response = client.get("/gateway/asyncapi.json", HTTP_HOST="api.example.com")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    document = response.json()
    assert document["asyncapi"] == "3.0.0"
    server = document["servers"]["gateway"]
    assert server == {
        "host": "api.example.com",
        "pathname": "/socket/",
        "protocol": "ws",
        "description": "The websocket the gateway is mounted on.",
    }
    assert {"books", "clock", "ping", "echo"} <= set(document["channels"])


def test_a_secure_request_gets_wss(client: Any) -> None:
    response = client.get("/asyncapi.json", secure=True)
    assert response.json()["servers"]["gateway"]["protocol"] == "wss"
    assert response.json()["servers"]["gateway"]["pathname"] == "/ws/"


def test_the_document_view_only_reads(client: Any) -> None:
    assert client.post("/asyncapi.json").status_code == 405


def test_gateway_urls_names_its_views_and_takes_a_namespace(client: Any) -> None:
    assert reverse("apidocs:browse") == "/gateway/"
    assert reverse("apidocs:asyncapi") == "/gateway/asyncapi.json"
    assert reverse("library:asyncapi") == "/other/asyncapi.json"
    document = client.get("/other/asyncapi.json").json()
    assert document["info"]["title"] == "Library"
    assert "kennels" in document["channels"]


@pytest.mark.django_db
def test_the_page_carries_its_config_for_anonymous_visitors(client: Any) -> None:
    response = client.get("/gateway/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script type="module" src="/static/apidocs/browse.js">' in html
    # The shipped client, by the name browse.js imports it with.
    assert '{"imports": {"channels-gateway": "/static/gateway/client.js"}}' in html
    config = json.loads(html.split('id="browse-config" type="application/json">')[1].split("<")[0])
    assert config == {
        "document_url": "asyncapi.json",
        "ws_path": "/socket/",
        "user": {"authenticated": False, "username": None},
    }
    assert "anonymous" in html


@pytest.mark.django_db
def test_the_page_names_the_signed_in_user(client: Any) -> None:
    user = User.objects.create_user("ada", password="x")
    client.force_login(user)
    html = client.get("/gateway/").content.decode()
    assert '<strong id="username">ada</strong>' in html
    assert '"authenticated": true' in html


def test_a_gateway_path_that_does_not_import_is_an_error_naming_the_fix(client: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="cannot import the gateway"):
        client.get("/missing.json")


def test_a_view_without_a_gateway_is_an_error_naming_the_fix(client: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="needs a gateway: pass gateway=MyGateway"):
        client.get("/unset.json")


@pytest.mark.django_db
def test_a_decorator_guards_both_views(client: Any) -> None:
    for url in ("/private/", "/private/asyncapi.json"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    client.force_login(User.objects.create_user("ada", password="x"))
    assert client.get("/private/asyncapi.json").json()["asyncapi"] == "3.0.0"
    assert client.get("/private/").status_code == 200
