"""The peer's one Django app."""

from django.apps import AppConfig


class DjangoPeerConfig(AppConfig):
    """The appointment app."""

    name = "benchmarks.django_peer"
    label = "django_peer"
    default_auto_field = "django.db.models.BigAutoField"
