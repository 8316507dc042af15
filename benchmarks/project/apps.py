from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "benchmarks.project"
    label = "benchapp"
    default_auto_field = "django.db.models.BigAutoField"
