"""apidocs under hostile requests: a forged Host, and what building the document touches."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from apidocs.document import build_document
from tests.apidocs.support import HypermediaGateway, ShowcaseGateway

pytestmark = pytest.mark.urls("tests.apidocs.urls")


@override_settings(ALLOWED_HOSTS=["testserver"])
def test_a_forged_host_never_reaches_the_document(client: Any) -> None:
    # The server entry is built from the Host header: a foreign one is refused
    # (Django's ALLOWED_HOSTS), so the document never points clients elsewhere.
    assert client.get("/gateway/asyncapi.json", HTTP_HOST="evil.example").status_code == 400
    document = client.get("/gateway/asyncapi.json").json()
    assert document["servers"]["gateway"]["host"] == "testserver"


@override_settings(ALLOWED_HOSTS=["testserver"])
@pytest.mark.django_db
def test_the_page_does_not_echo_the_host(client: Any) -> None:
    # The page connects to location.host itself; the Host header is not in it.
    response = client.get("/gateway/", HTTP_HOST="evil.example")
    assert b"evil.example" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("gateway", [ShowcaseGateway, HypermediaGateway], ids=lambda g: g.__name__)
def test_building_the_document_reads_no_data(gateway: Any, django_assert_num_queries: Any) -> None:
    # Querysets are asked for their model only: describing the API never runs
    # a query, so the document cannot leak rows and costs the database nothing.
    with django_assert_num_queries(0):
        build_document(gateway)
