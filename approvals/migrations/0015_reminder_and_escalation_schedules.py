"""Install the schedules of the expiry reminders and the overdue-review escalation
(issue 12), added to ``approvals.hygiene.schedules`` after 0013 had run: 0013's install
creates every default schedule that has no row yet, so it adds just these two."""

import importlib

from django.db import migrations

NAMES = ("remind-expiring-approvals", "escalate-overdue-reviews")


def install(apps, schema_editor):
    importlib.import_module("approvals.migrations.0013_lifecycle_schedules").install(
        apps, schema_editor
    )


def remove(apps, schema_editor):
    from approvals.hygiene.schedules import LIFECYCLE_SCHEDULES

    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name in NAMES:
        PeriodicTask.objects.filter(name=name, task=LIFECYCLE_SCHEDULES[name]["task"]).delete()


class Migration(migrations.Migration):
    dependencies = [("approvals", "0014_verbose_names")]

    operations = [migrations.RunPython(install, remove)]
