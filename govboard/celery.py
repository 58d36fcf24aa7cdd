"""The Celery application. Tasks are thin wrappers over services; see registry/tasks.py."""

import os

from celery import Celery
from celery.signals import beat_init, task_postrun, task_prerun, worker_init
from django.core import checks

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govboard.settings.local")

app = Celery("govboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Startup refuses a broker that could lose tasks (evicting Redis) or run them twice (a
# visibility timeout shorter than a task): the web and commands through Django's system
# checks, the worker and the beat before they consume anything.
from govboard.broker_health import (  # noqa: E402 - after the app, which it reads
    check_broker_configuration,
    refuse_misconfigured_broker,
)

checks.register(check_broker_configuration, "broker")
worker_init.connect(refuse_misconfigured_broker, weak=False)
beat_init.connect(refuse_misconfigured_broker, weak=False)

# A task acts as the system: its history rows name no user and say which task wrote them.
from core import history  # noqa: E402


@task_prerun.connect(weak=False)
def _task_acts_as_system(task_id: str | None = None, **_: object) -> None:
    history.forget_actor()
    history.note_system(f"system:task {task_id}")


task_postrun.connect(history.forget_actor, weak=False)
