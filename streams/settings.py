"""One settings object for every policy default, in the style of DRF's ``api_settings``.

Values are read from ``settings.CHANNELS_GATEWAY`` (or DCRF's
``DJANGO_CHANNELS_REST_API`` key, for projects migrating from it) the first time
they are used and cached; the cache is dropped on Django's ``setting_changed``
signal, so ``override_settings`` works in tests. DCRF read its settings once at
import, which is why overriding them never worked there.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

SETTINGS_KEY = "CHANNELS_GATEWAY"
LEGACY_SETTINGS_KEY = "DJANGO_CHANNELS_REST_API"

DEFAULTS: dict[str, Any] = {
    "DEFAULT_PERMISSION_CLASSES": ("streams.permissions.AllowAny",),
    # None, as in DCRF: PaginatedModelListMixin then replies with the plain list.
    "DEFAULT_PAGINATION_CLASS": None,
    "PAGE_SIZE": None,
    # Most objects one list reply may hold. A paginated list's `limit` is clamped
    # to it, and without PAGE_SIZE its pages have this size; a plain `list`
    # (ListModelMixin) matching more objects is refused with a 400. Keeps a
    # client from making the server load and send a whole table at once.
    # None: no bound (DCRF's behaviour).
    "MAX_PAGE_SIZE": 1000,
    "DEFAULT_FILTER_BACKENDS": (),
    # DRF throttles for every consumer without throttle_classes (streams/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": (),
    # Longest request_id (in characters of its JSON form) that is echoed back;
    # longer ones are refused with a 400 so a client cannot make us amplify data.
    "MAX_REQUEST_ID_LENGTH": 1024,
    # Threads sync actions run in (see streams/threads.py); read once, at first use.
    "ACTION_THREADS": 8,
    # Observers (streams.observer.discovery): import every installed app's
    # `consumers` module at start-up, plus these modules, so that every
    # process (workers, management commands) emits the events.
    "OBSERVER_AUTODISCOVER": True,
    "OBSERVER_MODULES": (),
    # Most subscriptions (observer groups x request_ids) one stream consumer may
    # hold; beyond it, subscribing answers 429. None: no cap. A consumer's
    # `max_subscriptions` attribute overrides it.
    "MAX_SUBSCRIPTIONS": 1000,
    # Most list subscriptions (`subscribe_list`) one connection may hold, all
    # its streams together; beyond it, 429. Each costs a compiled query per
    # write of its model (shared by equal ones). None: no cap. A consumer's
    # `max_list_subscriptions` attribute overrides it.
    "MAX_LIST_SUBSCRIPTIONS": 200,
    # Observer history (streams/observer/history.py, docs/PROTOCOL.md "Resuming"):
    # off unless an observer asks (`history=True`, or `observer_history = True`
    # on a consumer using the generic mixins). Per group: at most this many
    # events, kept this many seconds after the group's last write (the window
    # in which a reconnecting client can resume).
    "OBSERVER_HISTORY_MAX_EVENTS": 100,
    "OBSERVER_HISTORY_MAX_AGE": 300,
    # In-memory layer only: most groups with a history in this process.
    "OBSERVER_HISTORY_MAX_GROUPS": 10000,
    # Seconds (jittered by +-25%) between a consumer's re-joins of its groups
    # (streams/channel_layer.py): a restarted Redis shard that does not hold
    # the consumer's channel forgets its groups without the consumer's receive
    # failing, and channels_redis expires memberships after `group_expiry`.
    # None: never.
    "LAYER_GROUP_REFRESH": 300.0,
}

# Settings whose values may be dotted import paths, resolved on access.
IMPORT_STRINGS = frozenset(
    {
        "DEFAULT_PERMISSION_CLASSES",
        "DEFAULT_PAGINATION_CLASS",
        "DEFAULT_FILTER_BACKENDS",
        "DEFAULT_THROTTLE_CLASSES",
    }
)


def _resolve(value: Any, name: str) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return import_string(value)
        except ImportError as exc:
            raise ImportError(
                f"Could not import {value!r} for setting {SETTINGS_KEY}[{name!r}]: {exc}. "
                "Check the dotted path."
            ) from exc
    if isinstance(value, list | tuple):
        return tuple(_resolve(item, name) for item in value)
    return value


class APISettings:
    """Attribute access to the merged settings, e.g. ``api_settings.PAGE_SIZE``."""

    def __init__(self, defaults: dict[str, Any] | None = None) -> None:
        self.defaults = defaults if defaults is not None else DEFAULTS
        self._cached: dict[str, Any] = {}

    @property
    def user_settings(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        merged.update(getattr(settings, LEGACY_SETTINGS_KEY, None) or {})
        merged.update(getattr(settings, SETTINGS_KEY, None) or {})
        return merged

    def __getattr__(self, name: str) -> Any:
        if name not in self.defaults:
            raise AttributeError(
                f"Invalid channels-gateway setting {name!r}; valid ones are "
                f"{', '.join(sorted(self.defaults))}."
            )
        try:
            return self._cached[name]
        except KeyError:
            pass
        value = self.user_settings.get(name, self.defaults[name])
        if name in IMPORT_STRINGS:
            value = _resolve(value, name)
        self._cached[name] = value
        return value

    def reload(self) -> None:
        self._cached.clear()


api_settings = APISettings()


@receiver(setting_changed)
def reload_api_settings(*args: Any, setting: str | None = None, **kwargs: Any) -> None:
    """Drop the cached values when either settings key changes (DRF's and DCRF's name).

    Connected to Django's ``setting_changed``; call it yourself after changing
    ``settings`` by other means.
    """
    if setting is None or setting in (SETTINGS_KEY, LEGACY_SETTINGS_KEY):
        api_settings.reload()
