from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The kernel under every app: errors and problem documents, ids, admin action
    plumbing, the sweep loop and the API kernel. It has no models and imports no app."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.core.signals import request_started
        from simple_history.signals import pre_create_historical_record

        from core import history

        pre_create_historical_record.connect(history.fill_history_user, weak=False)
        request_started.connect(history.forget_actor, weak=False)
