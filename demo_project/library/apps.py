from django.apps import AppConfig


class LibraryConfig(AppConfig):
    name = "library"
    verbose_name = "Library (channels-gateway demo)"
    default_auto_field = "django.db.models.BigAutoField"
    # No ready() needed for live updates: the streams app imports every
    # installed app's ``consumers`` module at start-up (observer autodiscovery),
    # so each process that writes, a server or `manage.py shell`, has the
    # observers the subscribers rely on.
