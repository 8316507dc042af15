from django.apps import AppConfig


class StreamsConfig(AppConfig):
    """Registers observers in every process at start-up (see ``streams.observer``)."""

    name = "streams"
    label = "streams"
    verbose_name = "channels-gateway streams"

    def ready(self) -> None:
        # Import the modules that define observers in every process, so that a
        # process that never imports a consumer still emits their events.
        from streams import checks  # noqa: F401  (registers the system checks)
        from streams.observer.discovery import autodiscover

        autodiscover()
        # Logouts, password changes and revoked tokens are announced from every
        # process, so that sockets served elsewhere end with them.
        from streams.auth.revocation import connect_receivers

        connect_receivers()
        # channels_redis drops events for full channels with only an INFO log
        # record; count them and warn (gateway/layer_drops.py).
        from gateway.layer_drops import count_channel_layer_drops

        count_channel_layer_drops()
