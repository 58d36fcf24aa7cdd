from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The kernel under every app: errors and problem documents, ids, admin action
    plumbing, the sweep loop and the API kernel. It has no models and imports no app."""

    name = "core"
    verbose_name = "Core"
