"""Readiness: can this process serve sockets right now?

A load balancer or orchestrator asks ``/ready/`` before routing new sockets to
a process and while it runs. "Ready" means the two things every stream needs
are reachable: the database (one ``SELECT 1`` per configured alias) and the
channel layer (a message sent to a fresh channel and received back, which
proves both directions of the layer, not only that a TCP port answers).

Both checks run concurrently, each bounded by ``timeout`` seconds, so a hung
Redis or database answers 503 in bounded time instead of holding the probe
until the load balancer gives up. Failures name the exception class only: the
probe is often reachable from outside, and a driver's message can carry host
names or user names; the full error is logged on ``gateway.health``.

A process that has started its graceful shutdown (``gateway.shutdown``)
answers 503 at once, so the load balancer stops routing to it before its
sockets are closed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views import View

from gateway import shutdown

logger = logging.getLogger("gateway.health")

#: What a readiness response's ``status`` is: every check passed, or not.
READY, UNAVAILABLE = "ok", "unavailable"


def _ping_database(alias: str) -> None:
    # ensure_connection + a trivial query: a connection pooler or a database
    # that accepts TCP but cannot serve queries still fails here.
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def check_database(alias: str) -> None:
    """Raise if the database ``alias`` cannot answer ``SELECT 1``.

    Runs in Django's thread-sensitive executor, where the request's other ORM
    calls run, so the connection is the one Django closes after the request.
    """
    await sync_to_async(_ping_database)(alias)


async def check_channel_layer(alias: str) -> None:
    """Raise unless a message sent on the layer ``alias`` comes back.

    The channel is new for every probe (``new_channel``), so concurrent probes
    in several processes never read each other's messages.
    """
    layer = get_channel_layer(alias)
    if layer is None:
        raise LookupError(f"no channel layer {alias!r} in CHANNEL_LAYERS")
    channel = await layer.new_channel("gateway-health.")
    nonce = uuid.uuid4().hex
    await layer.send(channel, {"type": "gateway.health", "nonce": nonce})
    message = await layer.receive(channel)
    if message.get("nonce") != nonce:
        raise RuntimeError("the channel layer returned another message than the one sent")


class ReadinessView(View):
    """``GET``: 200 when the database and the channel layer answer, else 503.

    The body says which check failed and how long each took::

        {"status": "ok",
         "checks": {"database:default": {"status": "ok", "ms": 1.3},
                    "channel_layer:default": {"status": "ok", "ms": 0.8}}}

    Mount it with ``path("ready/", ReadinessView.as_view())``; configure with
    ``as_view(databases=["default"], channel_layers=["default"], timeout=2.0)``.
    ``databases=None`` checks every alias in ``DATABASES``; ``channel_layers=None``
    checks the default layer when ``CHANNEL_LAYERS`` has one (a project without
    a channel layer has nothing to check there). The response is never cached.
    """

    http_method_names = ["get", "head"]
    databases: Sequence[str] | None = None
    channel_layers: Sequence[str] | None = None
    timeout: float = 2.0

    def _checks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        checks: dict[str, Callable[[], Awaitable[None]]] = {}
        databases = list(settings.DATABASES) if self.databases is None else self.databases
        for alias in databases:
            checks[f"database:{alias}"] = functools.partial(check_database, alias)
        layers = self.channel_layers
        if layers is None:
            layers = ["default"] if "default" in getattr(settings, "CHANNEL_LAYERS", {}) else []
        for alias in layers:
            checks[f"channel_layer:{alias}"] = functools.partial(check_channel_layer, alias)
        return checks

    async def _run(self, name: str, check: Callable[[], Awaitable[None]]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(check(), self.timeout)
        except TimeoutError:
            logger.warning("readiness check %s timed out after %ss", name, self.timeout)
            outcome: dict[str, Any] = {"status": UNAVAILABLE, "error": "timeout"}
        except Exception as exc:
            logger.warning("readiness check %s failed: %r", name, exc)
            outcome = {"status": UNAVAILABLE, "error": type(exc).__name__}
        else:
            outcome = {"status": READY}
        outcome["ms"] = round((time.perf_counter() - started) * 1000, 1)
        return outcome

    async def get(self, request: HttpRequest) -> JsonResponse:
        if shutdown.draining():
            return self._respond({"status": UNAVAILABLE, "draining": True, "checks": {}})
        checks = self._checks()
        results = await asyncio.gather(*(self._run(name, run) for name, run in checks.items()))
        detail = dict(zip(checks, results, strict=True))
        ok = all(result["status"] == READY for result in results)
        return self._respond({"status": READY if ok else UNAVAILABLE, "checks": detail})

    def _respond(self, body: dict[str, Any]) -> JsonResponse:
        response = JsonResponse(body, status=200 if body["status"] == READY else 503)
        response["Cache-Control"] = "no-store"
        return response
