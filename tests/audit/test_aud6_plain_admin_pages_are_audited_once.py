"""AUD-6, the audited admin: every add, change and delete on the plain admin pages
(people, groups, beat's schedules, teams, datasets, dataset versions, webhook endpoints,
trusted signing keys), and every bulk action there, writes one audit event per object
changed: the administrator, the database's time, before/after of the changed fields.

A bulk action writes one event for each object (AUD-6's "exactly one audit event each"
is per change of an object, as every other case: the log is read per object, and a
trail of one object must show its deletion). Someone without the model permission is
refused: nothing changes and nothing is written.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django_celery_beat.models import PeriodicTask

from approvals.models import TrustedSigningKey
from audit.models import AuditEvent
from audit.verbs import AuditVerb
from tests.audit.aud6 import Acting, assert_audited_once, log_mark
from tests.audit.aud6_admin_writes import (
    PLAIN,
    admin_url,
    bulk_actions,
    change_values,
    page_form,
    plain_writes,
)
from tests.registry.factories import UserFactory

pytestmark = pytest.mark.django_db


def _errors(response) -> object:
    adminform = (response.context or {}).get("adminform")
    return adminform.form.errors if adminform else response.status_code


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("write", plain_writes(), ids=lambda w: f"{w[0]} {w[1]}")
def test_each_plain_admin_page_write_writes_exactly_one_audit_event(write, default_policy):
    # Given an administrator on the model's add, change or delete page
    label, kind = write
    admin = UserFactory(is_superuser=True)
    client = _signed_in(admin)
    case = PLAIN[label]
    target = None if kind == "add" else case.existing()
    if kind == "add":
        url, form = admin_url(label, "add"), None
        form = page_form(client, url, **case.add())
    elif kind == "change":
        url = admin_url(label, "change", target.pk)
        form = page_form(client, url, **change_values(label))
    else:
        url, form = admin_url(label, "delete", target.pk), {"post": "yes"}
    mark = log_mark()

    # When they save it once
    response = client.post(url, form)

    # Then it succeeds and writes one event for the object, with what changed
    assert response.status_code == 302, _errors(response)
    verb = {
        "add": AuditVerb.ADMIN_OBJECT_CREATED,
        "change": AuditVerb.ADMIN_OBJECT_CHANGED,
        "delete": AuditVerb.ADMIN_OBJECT_DELETED,
    }[kind]
    (event,) = assert_audited_once(mark, (verb,), Acting(user=admin))
    assert event.object_type == label
    if target is not None:
        assert event.object_id == str(target.pk)
    if kind == "change":
        # Only the changed fields, and a secret only as a fingerprint
        assert set(event.data["after"]) == set(event.data["before"])
        assert event.data["after"] != event.data["before"]
    assert "rotated key" not in json.dumps(event.data)
    assert "hmac key" not in json.dumps(event.data)


def test_disabling_a_sweep_records_its_enabled_flag_before_and_after(default_policy):
    # Given an enabled schedule
    admin = UserFactory(is_superuser=True)
    client = _signed_in(admin)
    sweep = PLAIN["django_celery_beat.periodictask"].existing()
    url = admin_url("django_celery_beat.periodictask", "change", sweep.pk)
    mark = log_mark()

    # When an administrator unticks "enabled" and saves
    client.post(url, page_form(client, url, enabled=None))

    # Then the one event says it was enabled and now is not
    (event,) = assert_audited_once(mark, (AuditVerb.ADMIN_OBJECT_CHANGED,), Acting(user=admin))
    assert event.data["before"]["enabled"] is True
    assert event.data["after"]["enabled"] is False


@pytest.mark.parametrize("action", sorted(bulk_actions()), ids=lambda a: f"{a[0]} {a[1]}")
def test_each_bulk_admin_action_writes_one_audit_event_per_object(action, default_policy):
    # Given an administrator and the objects they select on the list
    label, name = action
    case = bulk_actions()[action]
    admin = UserFactory(is_superuser=True)
    client = _signed_in(admin)
    selected = case.select()
    mark = log_mark()

    # When they run the action once (confirming, for a delete)
    response = client.post(
        f"/admin/{label.replace('.', '/')}/",
        {"action": name, "_selected_action": [obj.pk for obj in selected], "post": "yes"},
    )

    # Then one event for each selected object, naming the action
    assert response.status_code == 302, response.content.decode()[-3000:]
    events = assert_audited_once(mark, [case.verb] * len(selected), Acting(user=admin))
    assert sorted(event.object_id for event in events) == sorted(str(o.pk) for o in selected)
    assert {event.data["action"] for event in events} == {name}


def _staff_who_may_only_view(label: str):
    app, model = label.split(".")
    person = UserFactory(is_staff=True)
    person.user_permissions.add(
        Permission.objects.get(content_type__app_label=app, codename=f"view_{model}")
    )
    return person


def test_someone_who_may_only_view_schedules_cannot_disable_a_sweep():
    # Given staff who may view schedules but not change them
    label = "django_celery_beat.periodictask"
    person = _staff_who_may_only_view(label)
    sweep = PLAIN[label].existing()
    client = _signed_in(person)
    mark = log_mark()

    # When they post the change page with "enabled" unticked, and then the bulk action
    page = client.post(admin_url(label, "change", sweep.pk), {"name": sweep.name})
    bulk = client.post(
        "/admin/django_celery_beat/periodictask/",
        {"action": "disable_tasks", "_selected_action": [sweep.pk]},
    )

    # Then both are refused: the sweep is still enabled and nothing is written
    assert page.status_code == 403
    assert b'name="action"' not in bulk.content  # no action is offered to them
    assert PeriodicTask.objects.get(pk=sweep.pk).enabled is True
    assert not AuditEvent.objects.filter(pk__gt=mark.last_id).exists()


def test_someone_who_may_only_view_keys_cannot_trust_a_new_one():
    # Given staff who may view trusted signing keys but not add them
    label = "approvals.trustedsigningkey"
    client = _signed_in(_staff_who_may_only_view(label))
    mark = log_mark()

    # When they post the add page
    response = client.post(admin_url(label, "add"), PLAIN[label].add())

    # Then it is refused: no key is trusted and nothing is written
    assert response.status_code == 403
    assert not TrustedSigningKey.objects.exists()
    assert not AuditEvent.objects.filter(pk__gt=mark.last_id).exists()


def test_someone_who_may_only_view_people_cannot_delete_one():
    # Given staff who may view people but not delete them
    client = _signed_in(_staff_who_may_only_view("auth.user"))
    victim = UserFactory()
    mark = log_mark()

    # When they confirm the delete page, and the bulk delete
    page = client.post(admin_url("auth.user", "delete", victim.pk), {"post": "yes"})
    client.post(
        "/admin/auth/user/",
        {"action": "delete_selected", "_selected_action": [victim.pk], "post": "yes"},
    )

    # Then both are refused: the person is still there and nothing is written
    assert page.status_code == 403
    assert type(victim).objects.filter(pk=victim.pk).exists()
    assert not AuditEvent.objects.filter(pk__gt=mark.last_id).exists()
