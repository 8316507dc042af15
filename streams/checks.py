"""Django system checks (``python manage.py check``) for set-ups that fail quietly.

Each mistake below works in a quick manual try and loses data or opens a hole
later, so ``check`` (and ``runserver``, ``migrate``, ``test``) reports it:

``streams.E001``, ``streams.E002``
    Observers without the app or without a channel layer: in
    :mod:`streams.observer.checks`, next to what they inspect.
``streams.W003``
    The in-memory channel layer while the environment asks the server for
    several worker processes (``WEB_CONCURRENCY``, ``UVICORN_WORKERS`` or
    ``GUNICORN_CMD_ARGS --workers``): each process would only see its own
    events.
``streams.W004`` (``check --deploy``)
    The in-memory channel layer in a deployment: fine for one process, wrong
    as soon as there are two.
``streams.W005``
    A websocket route of ``ASGI_APPLICATION`` that no ``OriginValidator``
    (``AllowedHostsOriginValidator``) guards: any web page a user visits could
    open a socket with the user's cookies (cross-site websocket hijacking).
``streams.W007``
    A channels_redis layer whose connections time out reads no later than its
    blocking receive returns (redis-py 8 defaults ``socket_timeout`` to 5 s,
    channels_redis blocks for 5 s): every idle receive then ends in a timeout
    that consumers must treat as an outage, re-joining their groups every few
    seconds, and a message popped just as the read timed out is lost.

The checks are registered when this module is imported: by
``StreamsConfig.ready()``, and by :mod:`streams.observer.checks` (which the
observer package imports), so the layer checks run wherever observers exist.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

__all__ = [
    "check_asgi_origin_validation",
    "check_in_memory_layer_deploy",
    "check_in_memory_layer_processes",
    "check_redis_socket_timeout",
]

IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"
LAYER_HINT = (
    'Set CHANNEL_LAYERS, e.g. {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}} '
    'for one development process, or {"default": {"BACKEND": '
    '"channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:6379"]}}} '
    "in production (docs/INSTALL.md)."
)


def default_layer() -> dict[str, Any] | None:
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    layer = layers.get("default") if isinstance(layers, dict) else None
    return layer if isinstance(layer, dict) else None


def _requested_workers() -> tuple[str, int] | None:
    for name in ("WEB_CONCURRENCY", "UVICORN_WORKERS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 1:
            return name, int(value)
    args = shlex.split(os.environ.get("GUNICORN_CMD_ARGS", ""))
    for index, arg in enumerate(args):
        match = re.fullmatch(r"(?:--workers|-w)(?:=(\d+))?", arg)
        if match is None:
            continue
        value = match.group(1) or (args[index + 1] if index + 1 < len(args) else "")
        if value.isdigit() and int(value) > 1:
            return "GUNICORN_CMD_ARGS", int(value)
    return None


@register()
def check_in_memory_layer_processes(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    layer = default_layer()
    if layer is None or layer.get("BACKEND") != IN_MEMORY_LAYER:
        return []
    workers = _requested_workers()
    if workers is None:
        return []
    source, count = workers
    return [
        Warning(
            f"The in-memory channel layer with {count} server processes ({source}): each "
            "process only sees the events and group messages of its own connections.",
            hint="Use channels_redis (or another cross-process layer) in CHANNEL_LAYERS, or "
            "run one server process.",
            id="streams.W003",
        )
    ]


@register(deploy=True)
def check_in_memory_layer_deploy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    layer = default_layer()
    if layer is None or layer.get("BACKEND") != IN_MEMORY_LAYER:
        return []
    return [
        Warning(
            "The in-memory channel layer is for one development process: with two server "
            "processes (or a worker writing), events reach only the process that made them.",
            hint="Use channels_redis in production: " + LAYER_HINT,
            id="streams.W004",
        )
    ]


def _children(app: Any) -> Iterator[Any]:
    """The applications an ASGI router or middleware hands connections to."""
    mapping = getattr(app, "application_mapping", None)  # ProtocolTypeRouter
    if isinstance(mapping, dict):
        if "websocket" in mapping:
            yield mapping["websocket"]
        return
    routes = getattr(app, "routes", None)  # URLRouter
    if isinstance(routes, list | tuple):
        for route in routes:
            callback = getattr(route, "callback", None)
            if callback is not None:
                yield callback
        return
    for attribute in ("application", "inner", "app"):  # middleware
        inner = getattr(app, attribute, None)
        if inner is not None and inner is not app:
            yield inner
            return


def _unguarded(app: Any, guarded: bool, depth: int = 0) -> Iterator[Any]:
    from channels.security.websocket import OriginValidator

    guarded = guarded or isinstance(app, OriginValidator)
    children = list(_children(app)) if depth < 20 else []
    if not children:
        if not guarded:
            yield app
        return
    for child in children:
        yield from _unguarded(child, guarded, depth + 1)


def _describe(app: Any) -> str:
    # Consumers' and gateways' as_asgi() apps name their class.
    cls = getattr(app, "consumer_class", None) or getattr(app, "gateway_class", None)
    target = cls if isinstance(cls, type) else type(app)
    return f"{target.__module__}.{target.__qualname__}"


@register(Tags.security)
def check_asgi_origin_validation(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    path = getattr(settings, "ASGI_APPLICATION", None)
    if not path:
        return []
    from django.utils.module_loading import import_string

    try:
        application = import_string(path)
    except Exception as exc:
        return [
            Error(
                f"ASGI_APPLICATION {path!r} cannot be imported: {exc!r}.",
                hint="Import consumers only after get_asgi_application() in asgi.py "
                "(docs/INSTALL.md).",
                id="streams.E006",
            )
        ]
    if not hasattr(application, "application_mapping"):
        return []
    unguarded = sorted({_describe(app) for app in _unguarded(application, guarded=False)})
    if not unguarded:
        return []
    return [
        Warning(
            f"Websocket route(s) of {path} without an OriginValidator: {', '.join(unguarded)}. "
            "Any web page could open them with the visitor's cookies.",
            hint="Wrap the websocket application: "
            '"websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter([...]))) '
            "(channels.security.websocket).",
            id="streams.W005",
        )
    ]


def _explicit_socket_timeout(host: Any) -> tuple[bool, Any]:
    """``(given, value)`` of a channels_redis ``hosts`` entry's socket_timeout."""
    address = host
    if isinstance(host, dict):
        if "socket_timeout" in host:
            return True, host["socket_timeout"]
        address = host.get("address")
    if isinstance(address, str):
        values = parse_qs(urlsplit(address).query).get("socket_timeout")
        if values:
            try:
                return True, float(values[-1])
            except ValueError:
                return False, None
    return False, None


@register()
def check_redis_socket_timeout(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    layer = default_layer()
    if layer is None:
        return []
    try:
        from channels_redis.core import RedisChannelLayer
        from redis.asyncio import connection as redis_connection

        backend = import_string(str(layer.get("BACKEND", "")))
    except ImportError:
        return []
    if not (isinstance(backend, type) and issubclass(backend, RedisChannelLayer)):
        return []
    blocking = float(getattr(backend, "brpop_timeout", 5))
    # None on redis-py < 8 (no read timeout); 5 seconds on redis-py 8.
    default = getattr(redis_connection, "DEFAULT_SOCKET_TIMEOUT", None)
    hosts = (layer.get("CONFIG") or {}).get("hosts") or [("localhost", 6379)]
    short = []
    for host in hosts:
        given, value = _explicit_socket_timeout(host)
        timeout = value if given else default
        if timeout is not None and float(timeout) <= blocking:
            short.append(host.get("address", host) if isinstance(host, dict) else host)
    if not short:
        return []
    return [
        Warning(
            f"The channel layer's Redis connections time out reads after {timeout:g} s, no "
            f"later than channels_redis' blocking receive ({blocking:g} s), for {short!r}: "
            "every idle receive ends in a timeout, taken for an outage (a re-join of every "
            "group each few seconds per socket), and a message can be lost.",
            hint='Give each hosts entry a longer timeout, e.g. {"address": "redis://...", '
            '"socket_timeout": 10} (docs/OPERATIONS.md, "Set socket_timeout above 5 seconds").',
            id="streams.W007",
        )
    ]
