"""The scheduler reminds owners before their approval runs out (30, 7 and 1 day(s),
each once) and escalates reviews past their SLA to the escalation contact and the
team's governance managers, once per breach; both through the outbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from approvals import selectors, services
from approvals.models import Notification
from approvals.tasks import escalate_overdue_reviews, remind_expiring_approvals
from audit.models import AuditEvent
from audit.verbs import AuditVerb
from tests.approvals.factories import request_in_review
from tests.registry.factories import ModelVersionFactory, TeamFactory, manager

pytestmark = pytest.mark.django_db


def _remind(now, django_capture_on_commit_callbacks) -> int:
    with django_capture_on_commit_callbacks(execute=True):
        return services.approval_expiry_reminders_send(via="system:task t-1", now=now)


def test_owners_are_reminded_30_7_and_1_days_before_expiry_each_once(
    django_capture_on_commit_callbacks,
):
    # Given an approved version whose approval runs out at a known moment
    expires = timezone.now().replace(microsecond=0) + timedelta(days=60)
    version = ModelVersionFactory(state="approved", approval_expires_at=expires)
    model = version.registered_model

    # When the daily job runs across the approval's last 40 days, twice a day
    moments = [expires - timedelta(days=40) + timedelta(hours=12 * n) for n in range(81)]
    written = [_remind(moment, django_capture_on_commit_callbacks) for moment in moments]

    # Then exactly three reminders were written: at 30, 7 and 1 day(s) before
    reminded_at = [moment for moment, count in zip(moments, written, strict=True) if count]
    assert [expires - moment for moment in reminded_at] == [
        timedelta(days=30),
        timedelta(days=7),
        timedelta(days=1),
    ]
    assert sum(written) == 3
    # And each went once to the owner, the backup owner and the escalation contact
    assert len(mail.outbox) == 3
    assert all(
        message.to == [model.owner.email, model.backup_owner.email, "oncall@example.test"]
        for message in mail.outbox
    )
    assert [message.subject for message in mail.outbox] == [
        f"Approval of {version} expires within 30 days",
        f"Approval of {version} expires within 7 days",
        f"Approval of {version} expires within 1 day",
    ]
    # And each is one audit event by the system, naming the task and the reminder
    events = AuditEvent.objects.filter(verb=AuditVerb.VERSION_EXPIRY_REMINDED).order_by("id")
    assert [(e.actor_id, e.actor_label, e.data["reminder_days"]) for e in events] == [
        (None, "system:task t-1", 30),
        (None, "system:task t-1", 7),
        (None, "system:task t-1", 1),
    ]


def test_a_job_that_missed_the_30_day_mark_sends_only_the_7_day_reminder(
    django_capture_on_commit_callbacks,
):
    # Given an approval expiring in five days that nobody was reminded of
    now = timezone.now()
    ModelVersionFactory(state="approved", approval_expires_at=now + timedelta(days=5))

    # When the job runs (through its task, as the beat does)
    with django_capture_on_commit_callbacks(execute=True):
        remind_expiring_approvals.apply(kwargs={"now": now})
        remind_expiring_approvals.apply(kwargs={"now": now + timedelta(hours=1)})

    # Then one reminder, the 7-day one, was written and sent
    assert list(Notification.objects.values_list("key", flat=True)) == [
        Notification.objects.get().key
    ]
    assert Notification.objects.get().key.endswith(":7d")
    assert len(mail.outbox) == 1


def test_versions_not_approved_or_far_from_expiry_are_not_reminded(
    django_capture_on_commit_callbacks,
):
    # Given a deprecated version and an approval with 40 days left
    now = timezone.now()
    ModelVersionFactory(state="deprecated", approval_expires_at=now + timedelta(days=3))
    ModelVersionFactory(state="approved", approval_expires_at=now + timedelta(days=40))
    ModelVersionFactory(state="approved", approval_expires_at=now - timedelta(days=1))

    # When the job runs
    written = _remind(now, django_capture_on_commit_callbacks)

    # Then nobody is reminded and nothing is recorded
    assert written == 0
    assert mail.outbox == []
    assert not AuditEvent.objects.filter(verb=AuditVerb.VERSION_EXPIRY_REMINDED).exists()


def test_an_overdue_review_escalates_to_the_contact_and_the_managers_once_per_breach(
    django_capture_on_commit_callbacks,
):
    # Given a request in review with a due date, a team manager, and a request not due
    team = TeamFactory()
    boss = manager(team)
    request = request_in_review(registered_model__team=team)
    on_time = request_in_review(registered_model__team=team)
    on_time.due_at = request.due_at + timedelta(days=30)
    on_time.save(update_fields=["due_at"])
    after_due = request.due_at + timedelta(hours=1)

    # When the escalation job runs before the due date, then twice after it
    with django_capture_on_commit_callbacks(execute=True):
        before = services.overdue_reviews_escalate(via="system:task t-2", now=request.due_at)
        first = escalate_overdue_reviews.apply(kwargs={"now": after_due}).get()
        second = escalate_overdue_reviews.apply(kwargs={"now": after_due + timedelta(days=1)})

    # Then it escalated once, to the escalation contact and the manager, not the owners
    assert (before, first, second.get()) == (0, 1, 0)
    assert [message.to for message in mail.outbox] == [["oncall@example.test", boss.email]]
    assert f"PR-{request.pk}" in mail.outbox[0].subject
    assert "Waiting for:" in mail.outbox[0].body
    event = AuditEvent.objects.get(verb=AuditVerb.PROMOTION_ESCALATED)
    assert (event.object_id, event.actor_id) == (str(request.pk), None)
    assert event.actor_label.startswith("system:task ")
    assert event.data["due_at"] == request.due_at.isoformat()
    # And it escalated exactly what the overdue selector reports (one answer)
    overdue = selectors.overdue_requests(boss, now=after_due)
    assert list(overdue.values_list("pk", flat=True)) == [request.pk]


def test_a_new_due_date_missed_again_is_a_second_breach(django_capture_on_commit_callbacks):
    # Given a request escalated for missing its due date
    team = TeamFactory()
    boss = manager(team)
    request = request_in_review(registered_model__team=team)
    first_due = request.due_at
    with django_capture_on_commit_callbacks(execute=True):
        services.overdue_reviews_escalate(via="system:task t-3", now=first_due + timedelta(hours=1))

    # When a manager expedites it (a new due date) and that one is missed too
    expedited = services.promotion_request_expedite(actor=boss, request=request, reason="launch")
    assert expedited.due_at != first_due
    with django_capture_on_commit_callbacks(execute=True):
        again = services.overdue_reviews_escalate(
            via="system:task t-3", now=max(first_due, expedited.due_at) + timedelta(hours=2)
        )

    # Then it escalates a second time, once
    assert again == 1
    assert len(mail.outbox) == 2
    assert AuditEvent.objects.filter(verb=AuditVerb.PROMOTION_ESCALATED).count() == 2
