"""Django's people and groups and django-celery-beat's schedules, re-registered with the
one audited admin (``audit.admin_audit``): an administrator who adds a person, changes a
group's permissions or disables a sweep leaves one audit event per object changed.

The third-party admins are kept as they are (their forms, lists and actions) with the
mixin in front; beat's bulk actions are wrapped so each schedule they change (or run) is
recorded. Loaded from ``audit.admin``: audit comes after auth and django_celery_beat in
``INSTALLED_APPS``, so their admins are registered by then.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import models, transaction
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from audit.admin_audit import AuditedAdminMixin, admin_write_record, audited_action
from audit.verbs import AuditVerb

_Beat = beat_admin.PeriodicTaskAdmin


class AuditedPeriodicTaskAdmin(AuditedAdminMixin, _Beat):
    enable_tasks = audited_action(_Beat.enable_tasks, name="enable_tasks")
    disable_tasks = audited_action(_Beat.disable_tasks, name="disable_tasks")
    toggle_tasks = audited_action(_Beat.toggle_tasks, name="toggle_tasks")

    @admin.action(description=_Beat.run_tasks.short_description, permissions=["change"])
    def run_tasks(self, request: Any, queryset: models.QuerySet) -> None:
        """Each schedule run now gets one ``schedule.run_requested`` event, written before
        its task is sent (a send that fails rolls the events back); beat refuses the whole
        selection, and nothing is recorded, if one names a task that does not exist."""
        self.celery_app.loader.import_default_modules()
        with transaction.atomic():
            selected = list(queryset.order_by("pk"))
            if all(self.celery_app.tasks.get(schedule.task) for schedule in selected):
                for schedule in selected:
                    admin_write_record(
                        actor=request.user,
                        verb=AuditVerb.SCHEDULE_RUN_REQUESTED,
                        target=schedule,
                        before=None,
                        after={
                            "task": schedule.task,
                            "args": schedule.args,
                            "kwargs": schedule.kwargs,
                            "queue": schedule.queue,
                        },
                        action="run_tasks",
                    )
            return super().run_tasks(request, queryset)


def _audited(base: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    return type(f"Audited{base.__name__}", (AuditedAdminMixin, base), {})


REGISTRATIONS: tuple[tuple[type[models.Model], type[admin.ModelAdmin]], ...] = (
    (get_user_model(), _audited(UserAdmin)),
    (Group, _audited(GroupAdmin)),
    (PeriodicTask, AuditedPeriodicTaskAdmin),
    (ClockedSchedule, _audited(beat_admin.ClockedScheduleAdmin)),
    (CrontabSchedule, _audited(beat_admin.CrontabScheduleAdmin)),
    (SolarSchedule, _audited(beat_admin.SolarScheduleAdmin)),
    (IntervalSchedule, _audited(beat_admin.IntervalScheduleAdmin)),
)


def register_audited(site: admin.AdminSite) -> None:
    """Replace each third-party admin with its audited subclass."""
    for model, model_admin in REGISTRATIONS:
        if site.is_registered(model):
            site.unregister(model)
        site.register(model, model_admin)
