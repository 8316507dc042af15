from django.apps import AppConfig


class ApiDocsConfig(AppConfig):
    """The ``asyncapi`` command, the browsable page's template and static files."""

    name = "apidocs"
    label = "apidocs"
    verbose_name = "Gateway API docs"
