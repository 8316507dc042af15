from django.contrib.auth import views as auth_views
from django.contrib.staticfiles.views import serve
from django.urls import path, re_path
from library import stats, views

from apidocs.urls import gateway_urls
from apidocs.views import AsyncAPIView
from gateway.health import ReadinessView
from gateway.metrics import MetricsView

DEMOPLEXER = "library.demoplexer.Demoplexer"

urlpatterns = [
    path("", views.index, name="index"),
    path("api/stats/", stats.LibraryStatsView.as_view(), name="stats"),
    # The demoplexer's AsyncAPI 3.0 document, and the browsable gateway reading it.
    path("asyncapi.json", AsyncAPIView.as_view(gateway=DEMOPLEXER, ws_path=views.WS_PATH)),
    path("gateway/", gateway_urls(DEMOPLEXER, ws_path=views.WS_PATH, title="Demoplexer")),
    # Readiness for a load balancer: database and channel layer (docs/OPERATIONS.md).
    path("ready/", ReadinessView.as_view(), name="ready"),
    # Prometheus metrics (the `metrics` extra; docs/OPERATIONS.md). A real
    # deployment serves these where only Prometheus can reach them.
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The demo serves its few static files itself, with or without DEBUG, so
    # `make demo` needs no collectstatic and no web server in front.
    re_path(r"^static/(?P<path>.*)$", serve, {"insecure": True}),
]
