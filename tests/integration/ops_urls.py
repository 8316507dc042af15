"""URLs of the operations integration servers."""

from django.urls import path

from gateway.health import ReadinessView

urlpatterns = [path("ready/", ReadinessView.as_view(timeout=3.0))]
