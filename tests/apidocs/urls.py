"""URLs for the apidocs view tests: the page + document, and a dotted-path view."""

from django.contrib.auth.decorators import login_required
from django.urls import path

from apidocs.urls import gateway_urls
from apidocs.views import AsyncAPIView

urlpatterns = [
    path("gateway/", gateway_urls("tests.apidocs.support.ShowcaseGateway", ws_path="/socket/")),
    path(
        "other/",
        gateway_urls(
            "tests.apidocs.support.HypermediaGateway", title="Library", namespace="library"
        ),
    ),
    path(
        "private/",
        gateway_urls(
            "tests.apidocs.support.ShowcaseGateway", namespace="private", decorator=login_required
        ),
    ),
    path("asyncapi.json", AsyncAPIView.as_view(gateway="tests.apidocs.support.ShowcaseGateway")),
    path("missing.json", AsyncAPIView.as_view(gateway="tests.apidocs.support.NoSuchGateway")),
    path("unset.json", AsyncAPIView.as_view()),
]
