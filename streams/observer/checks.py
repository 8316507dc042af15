"""System checks about observers: the two mistakes that make every event vanish.

``streams.E001``
    Observers are declared but ``"streams"`` is not in ``INSTALLED_APPS``: its
    ``ready()`` is what imports the observers' modules in every process, so a
    shell, a cron job or a worker writes without any event being sent.
``streams.E002``
    Observers or subscribing consumers exist but ``CHANNEL_LAYERS`` has no
    ``"default"`` layer: nothing can be sent, and subscribing fails.

The observer package imports this module, so the checks are registered as soon
as any observer exists, even when the app whose absence E001 reports never
loads. The other checks are in :mod:`streams.checks`.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.checks import CheckMessage, Error, register

from streams.checks import LAYER_HINT, default_layer
from streams.observer.registry import registry

__all__ = ["check_channel_layer", "check_observers_installed"]


def _subscribing_consumers() -> list[type]:
    """Project consumer classes that can subscribe (the library's own mixins excluded)."""
    # Imported here: the mixins import most of this package, which imports us.
    from streams.observer.consumer_mixin import ObserverConsumerMixin

    found: list[type] = []
    pending = list(ObserverConsumerMixin.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if not cls.__module__.startswith("streams."):
            found.append(cls)
    return found


@register()
def check_observers_installed(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if apps.is_installed("streams"):
        return []
    models = registry.models()
    if not models:
        return []
    labels = ", ".join(sorted(model._meta.label for model in models))
    return [
        Error(
            f'Observers are declared (on {labels}) but "streams" is not in INSTALLED_APPS, so '
            "processes that never import the consumers (shell, cron jobs, workers) write "
            "without sending any event.",
            hint='Add "streams" to INSTALLED_APPS.',
            id="streams.E001",
        )
    ]


@register()
def check_channel_layer(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if default_layer() is not None:
        return []
    users = [model._meta.label for model in registry.models()]
    users += [f"{cls.__module__}.{cls.__qualname__}" for cls in _subscribing_consumers()]
    if not users:
        return []
    return [
        Error(
            "Live updates need a channel layer, and CHANNEL_LAYERS has no 'default' one; "
            f"used by: {', '.join(sorted(users))}.",
            hint=LAYER_HINT,
            id="streams.E002",
        )
    ]
