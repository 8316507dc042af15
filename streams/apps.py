from django.apps import AppConfig


class StreamsConfig(AppConfig):
    """Registers observers in every process at start-up (see ``streams.observer``)."""

    name = "streams"
    label = "streams"
    verbose_name = "channels-gateway streams"
