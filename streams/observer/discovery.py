"""Import the modules that define observers, in every process, at start-up.

Observers connect their signal receivers when their consumer class is
created, i.e. when its module is imported. A process that never imports it
(a management command, a Celery worker, a second server that serves other
routes) would write without emitting anything; DCRF users lose events that
way. ``StreamsConfig.ready()`` calls :func:`autodiscover` so every process
that runs ``django.setup()`` has the same observers:

- ``<app>.consumers`` of every installed app (as the admin does with
  ``admin.py``), unless ``CHANNELS_GATEWAY["OBSERVER_AUTODISCOVER"]`` is false;
- every module listed in ``CHANNELS_GATEWAY["OBSERVER_MODULES"]``.
"""

from __future__ import annotations

import logging
from importlib import import_module

from django.utils.module_loading import autodiscover_modules

from streams.settings import api_settings

logger = logging.getLogger(__name__)


def autodiscover() -> None:
    if api_settings.OBSERVER_AUTODISCOVER:
        autodiscover_modules("consumers")
    for path in api_settings.OBSERVER_MODULES or ():
        if not isinstance(path, str):
            raise TypeError(
                f"CHANNELS_GATEWAY['OBSERVER_MODULES'] must list dotted module paths, got {path!r}."
            )
        import_module(path)
