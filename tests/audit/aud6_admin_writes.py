"""AUD-6's cases for the admin pages that save straight to the model through the one
audited admin (``audit.admin_audit``): people and groups, beat's schedules, teams,
datasets, dataset versions, webhook endpoints and trusted signing keys.

Each model has an object to change or delete, what its add page is filled with, and what
its change page changes. The forms are read from the page itself (its initial values,
as a browser would post them), so a field the third-party admin adds needs no case here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from approvals.models import TrustedSigningKey, WebhookEndpoint
from registry.models import Dataset, DatasetVersion
from tests.approvals.factories import CI_SIGNING_KEYID, ci_signing_public_pem
from tests.registry.factories import TeamFactory, UserFactory

# A task that, with nothing to escalate, changes nothing (beat's run action runs it
# eagerly in the tests).
HARMLESS_TASK = "approvals.tasks.escalate_overdue_reviews"


def posted(form: forms.BaseForm) -> dict[str, Any]:
    """The form's values as the browser posts them (an unticked box is left out)."""
    data: dict[str, Any] = {}
    for bound in form:
        value = bound.value()
        widget = bound.field.widget
        if isinstance(widget, forms.MultiWidget):
            for index, part in enumerate(widget.decompress(value)):
                if part is not None:
                    data[f"{bound.html_name}_{index}"] = str(part)
        elif isinstance(value, bool):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[bound.html_name] = [str(item) for item in value]
        elif value is not None:
            data[bound.html_name] = str(value)
    return data


def page_form(client: Client, page: str, /, **changes: Any) -> dict[str, Any]:
    """What the admin page ``page`` posts with ``changes`` made (None: the field cleared),
    its inline formsets included."""
    response = client.get(page)
    assert response.status_code == 200, page
    data = posted(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        data.update(posted(inline.formset.management_form))
        for form in inline.formset.forms:
            data.update(posted(form))
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def _interval() -> IntervalSchedule:
    return IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)


def _window() -> dict[str, Any]:
    start = timezone.now() - timedelta(days=30)
    return {"window_start": start, "window_end": start + timedelta(days=7)}


def _dataset_version() -> DatasetVersion:
    dataset = Dataset.objects.create(team=TeamFactory(), name="claims")
    return DatasetVersion.objects.create(dataset=dataset, version="v1", **_window())


def _split(moment) -> dict[str, str]:
    return {"_0": moment.date().isoformat(), "_1": moment.time().strftime("%H:%M:%S")}


@dataclass(frozen=True)
class Plain:
    """One model's audited admin: an object of it, its add page's values, and the
    values its change page changes."""

    existing: Callable[[], Any]
    add: Callable[[], dict[str, Any]]
    change: dict[str, Any]


def _clocked_add() -> dict[str, Any]:
    moment = timezone.now() + timedelta(days=2)
    return {f"clocked_time{key}": value for key, value in _split(moment).items()}


def _clocked_change() -> dict[str, Any]:
    moment = timezone.now() + timedelta(days=9)
    return {f"clocked_time{key}": value for key, value in _split(moment).items()}


PLAIN: dict[str, Plain] = {
    "auth.user": Plain(
        lambda: UserFactory(),
        lambda: {
            "username": "new-auditor",
            "password1": "a long enough passphrase 42",
            "password2": "a long enough passphrase 42",
            "usable_password": "true",
        },
        {"first_name": "Ada", "is_staff": "on"},
    ),
    "auth.group": Plain(
        lambda: Group.objects.create(name="auditors"),
        lambda: {"name": "release-managers"},
        {"name": "external-auditors"},
    ),
    "django_celery_beat.periodictask": Plain(
        lambda: PeriodicTask.objects.create(
            name="escalate", task=HARMLESS_TASK, interval=_interval()
        ),
        lambda: {
            "name": "nightly escalation",
            "regtask": HARMLESS_TASK,
            "interval": _interval().pk,
            "enabled": "on",
        },
        # Disabling a sweep: the hole AUD-6 was left with.
        {"enabled": None},
    ),
    "django_celery_beat.clockedschedule": Plain(
        lambda: ClockedSchedule.objects.create(clocked_time=timezone.now() + timedelta(days=1)),
        _clocked_add,
        {},  # filled per run (_clocked_change): the time must be in the future
    ),
    "django_celery_beat.crontabschedule": Plain(
        lambda: CrontabSchedule.objects.create(minute="0", hour="6"),
        lambda: {"minute": "30", "hour": "2"},
        {"hour": "7"},
    ),
    "django_celery_beat.intervalschedule": Plain(
        _interval, lambda: {"every": "3", "period": "days"}, {"every": "10"}
    ),
    "django_celery_beat.solarschedule": Plain(
        lambda: SolarSchedule.objects.create(event="sunrise", latitude=51.5, longitude=-0.12),
        lambda: {"event": "sunset", "latitude": "48.85", "longitude": "2.35"},
        {"latitude": "52.5"},
    ),
    "registry.team": Plain(
        TeamFactory, lambda: {"slug": "fraud", "name": "Fraud models"}, {"name": "Fraud ML"}
    ),
    "registry.dataset": Plain(
        lambda: Dataset.objects.create(team=TeamFactory(), name="claims"),
        lambda: {"team": TeamFactory().pk, "name": "payments"},
        {"description": "claims filed since 2024"},
    ),
    "registry.datasetversion": Plain(
        _dataset_version,
        lambda: {
            "dataset": Dataset.objects.create(team=TeamFactory(), name="claims").pk,
            "version": "v2",
            **{
                f"window_start{k}": v for k, v in _split(timezone.now() - timedelta(days=9)).items()
            },
            **{f"window_end{k}": v for k, v in _split(timezone.now() - timedelta(days=2)).items()},
        },
        {"version": "v1.1"},
    ),
    "approvals.webhookendpoint": Plain(
        lambda: WebhookEndpoint.objects.create(
            name="siem", url="https://siem.example/hook", secret="old-key"
        ),
        lambda: {
            "name": "pager",
            "url": "https://pager.example/hook",
            "secret": "hmac key",
            "events": "[]",
            "team_slugs": "[]",
            "is_active": "on",
        },
        {"url": "https://siem.example/v2/hook", "secret": "rotated key"},
    ),
    "approvals.trustedsigningkey": Plain(
        lambda: TrustedSigningKey.objects.create(
            keyid=CI_SIGNING_KEYID, public_key_pem=ci_signing_public_pem()
        ),
        lambda: {
            "keyid": CI_SIGNING_KEYID,
            "public_key_pem": ci_signing_public_pem(),
            "scheme": "ed25519",
            "description": "release CI",
            "is_active": "on",
        },
        # Deactivating a key: provenance it signed is no longer trusted.
        {"is_active": None},
    ),
}


def change_values(label: str) -> dict[str, Any]:
    if label == "django_celery_beat.clockedschedule":
        return _clocked_change()
    return PLAIN[label].change


def admin_url(label: str, view: str, pk: Any = None) -> str:
    app, model = label.split(".")
    if view == "add":
        return f"/admin/{app}/{model}/add/"
    return f"/admin/{app}/{model}/{pk}/{view}/"


def plain_writes() -> list[tuple[str, str]]:
    """(model, write) of every plain page write, as ``admin_object_writes`` names them;
    trusted signing keys are deactivated, never deleted (no delete page)."""
    return [
        (label, write)
        for label in PLAIN
        for write in ("add", "change", "delete")
        if (label, write) != ("approvals.trustedsigningkey", "delete")
    ]


@dataclass(frozen=True)
class Bulk:
    """A changelist action on the objects ``select`` makes: one ``verb`` event for each."""

    select: Callable[[], list[Any]]
    verb: str


def _tasks(*enabled: bool) -> Callable[[], list[PeriodicTask]]:
    def select() -> list[PeriodicTask]:
        return [
            PeriodicTask.objects.create(
                name=f"sweep {index}", task=HARMLESS_TASK, interval=_interval(), enabled=on
            )
            for index, on in enumerate(enabled)
        ]

    return select


def bulk_actions() -> dict[tuple[str, str], Bulk]:
    """Every changelist action of the audited admin: "delete selected" on each model that
    may be deleted, and beat's enable/disable/toggle/run on schedules."""
    from audit.verbs import AuditVerb

    deleted = {
        (label, "delete_selected"): Bulk(
            lambda label=label: [PLAIN[label].existing()], AuditVerb.ADMIN_OBJECT_DELETED
        )
        for label, write in plain_writes()
        if write == "delete"
    }
    beat = "django_celery_beat.periodictask"
    changed = AuditVerb.ADMIN_OBJECT_CHANGED
    return {
        **deleted,
        (beat, "enable_tasks"): Bulk(_tasks(False), changed),
        # Two sweeps disabled at once: two events, one for each.
        (beat, "disable_tasks"): Bulk(_tasks(True, True), changed),
        (beat, "toggle_tasks"): Bulk(_tasks(True), changed),
        (beat, "run_tasks"): Bulk(_tasks(True), AuditVerb.SCHEDULE_RUN_REQUESTED),
    }
