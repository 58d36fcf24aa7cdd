"""The Celery application. Tasks are thin wrappers over services; see registry/tasks.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govboard.settings.local")

app = Celery("govboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
