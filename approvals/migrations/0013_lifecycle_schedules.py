"""Install the lifecycle jobs' schedules as django-celery-beat rows (issue 12).

The defaults are read from ``approvals.hygiene.schedules`` (their one source). A task of
the same name that exists already (installed earlier, or edited in the admin) is left as
it is; reversing removes only rows still exactly as installed.
"""

from django.db import migrations
from django.utils import timezone

from approvals.hygiene.schedules import LIFECYCLE_SCHEDULES


def _schedule(apps, entry):
    if "interval" in entry:
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        interval, _ = IntervalSchedule.objects.get_or_create(**entry["interval"])
        return {"interval": interval}
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    fields = {
        "minute": "*",
        "hour": "*",
        "day_of_week": "*",
        "day_of_month": "*",
        "month_of_year": "*",
        "timezone": "UTC",
        **entry["crontab"],
    }
    crontab, _ = CrontabSchedule.objects.get_or_create(**fields)
    return {"crontab": crontab}


def install(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, entry in LIFECYCLE_SCHEDULES.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        PeriodicTask.objects.create(name=name, task=entry["task"], **_schedule(apps, entry))
    # A running beat reloads its rows when this marker moves.
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, entry in LIFECYCLE_SCHEDULES.items():
        PeriodicTask.objects.filter(name=name, task=entry["task"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0012_lifecycle_rules"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, remove)]
