"""AUD-6, the scheduler: every Celery task run once, as the worker runs it (``apply`` with a
task id), writes exactly its audit events, each naming the system and that task id.

Tasks that change governance state (checks, expiry, retirement, approval expiry) write one
event per object they change. The relays write none of their own, by design: they move
rows that have their own record (webhook deliveries and their attempts, leaves and signed
tree heads of the transparency log) or hand work to another task, whose events name it.
The tasks are read from the Celery app, so a new one fails here until it has a case.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from approvals import services
from approvals import tasks as approval_tasks
from approvals.models import WebhookDelivery
from audit import tasks as audit_tasks
from audit.models import LogLeaf
from audit.verbs import AuditVerb
from tests.approvals.factories import (
    PromotionRequestFactory,
    WebhookEndpointFactory,
    attach_passing_evidence,
    board_policy,
    ci_user,
)
from tests.approvals.lifecycle_scenario import (
    T0,
    approved_version,
    team_policy,
    trivy_report,
    upload_scan,
)
from tests.audit.aud6 import (
    Acting,
    assert_audited_once,
    assert_moved,
    events_since,
    log_mark,
    registered_tasks,
)
from tests.registry.factories import ModelVersionFactory, TeamFactory, ready_version

pytestmark = pytest.mark.django_db

TASK_ID = "aud6-0000-4000-8000-000000000001"


def _run_checks() -> tuple[Callable[[], object], tuple[AuditVerb, ...]]:
    version = ready_version()
    team = version.registered_model.team
    board_policy(team)
    attach_passing_evidence(version)
    request = services.promotion_request_submit(actor=ci_user(team), version=version)
    return (
        lambda: approval_tasks.run_promotion_checks.apply(args=[request.pk], task_id=TASK_ID),
        (
            AuditVerb.PROMOTION_CHECKS_STARTED,
            AuditVerb.PROMOTION_CHECKED,
            AuditVerb.VERSION_MARKED_CANDIDATE,
        ),
    )


def _expire_stale_requests():
    version = ModelVersionFactory(state="candidate", complete=True)
    PromotionRequestFactory(version=version, due_at=timezone.now() - timedelta(days=60))
    return (
        lambda: approval_tasks.expire_stale_requests.apply(
            kwargs={"now": timezone.now()}, task_id=TASK_ID
        ),
        (AuditVerb.PROMOTION_EXPIRED, AuditVerb.VERSION_RETURNED_TO_DRAFT),
    )


def _retire_after_grace():
    ModelVersionFactory(state="deprecated", deprecated_at=timezone.now() - timedelta(days=60))
    return (
        lambda: approval_tasks.retire_after_grace.apply(
            kwargs={"now": timezone.now()}, task_id=TASK_ID
        ),
        (AuditVerb.VERSION_RETIRED,),
    )


def _expire_approvals():
    now = timezone.now()
    ModelVersionFactory(
        state="approved",
        complete=True,
        approved_at=now - timedelta(days=100),
        approval_expires_at=now - timedelta(days=1),
    )
    return (
        lambda: approval_tasks.expire_approvals.apply(kwargs={"now": now}, task_id=TASK_ID),
        (AuditVerb.VERSION_DEPRECATED,),
    )


def _remind_expiring_approvals():
    now = timezone.now()
    ModelVersionFactory(
        state="approved",
        complete=True,
        approved_at=now - timedelta(days=80),
        approval_expires_at=now + timedelta(days=5),
    )
    return (
        lambda: approval_tasks.remind_expiring_approvals.apply(
            kwargs={"now": now}, task_id=TASK_ID
        ),
        (AuditVerb.VERSION_EXPIRY_REMINDED,),
    )


def _escalate_overdue_reviews():
    version = ModelVersionFactory(state="candidate", complete=True)
    PromotionRequestFactory(version=version, due_at=timezone.now() - timedelta(days=2))
    return (
        lambda: approval_tasks.escalate_overdue_reviews.apply(
            kwargs={"now": timezone.now()}, task_id=TASK_ID
        ),
        (AuditVerb.PROMOTION_ESCALATED,),
    )


def _lifecycle_rule(name: str, action: str):
    """An approved version the rule ``name`` fires on, under a policy that ``action``s."""

    def setup():
        team = TeamFactory()
        settings_ = {"stale": {"after_days": 180}}.get(name, {})
        policy = team_policy(team, {name: {"action": action, **settings_}})
        version = approved_version(policy, team=team)
        if name == "unowned":
            for person in (version.registered_model.owner, version.registered_model.backup_owner):
                person.is_active = False
                person.save(update_fields=["is_active"])
        if name == "vulnerable":
            upload_scan(version, trivy_report(("CVE-2026-0001", "torch", "CRITICAL")))
        task = getattr(approval_tasks, f"lifecycle_{name}")
        later = T0 + timedelta(days=181 if name == "stale" else 1)
        verb = (
            AuditVerb.LIFECYCLE_RULE_NOTIFIED
            if action == "notify"
            else AuditVerb.VERSION_DEPRECATED
        )
        return lambda: task.apply(kwargs={"now": later}, task_id=TASK_ID), (verb,)

    return setup


# The first event of each changing task records this transition of its object (None: the
# task announces, it moves no state).
CHANGING = {
    "approvals.tasks.run_promotion_checks": (_run_checks, ("submitted", "checking")),
    "approvals.tasks.expire_stale_requests": (_expire_stale_requests, ("in_review", "expired")),
    "approvals.tasks.retire_after_grace": (_retire_after_grace, ("deprecated", "retired")),
    "approvals.tasks.expire_approvals": (_expire_approvals, ("approved", "deprecated")),
    "approvals.tasks.remind_expiring_approvals": (_remind_expiring_approvals, None),
    "approvals.tasks.escalate_overdue_reviews": (_escalate_overdue_reviews, None),
    "approvals.tasks.lifecycle_stale": (_lifecycle_rule("stale", "notify"), None),
    "approvals.tasks.lifecycle_unowned": (_lifecycle_rule("unowned", "notify"), None),
    "approvals.tasks.lifecycle_vulnerable": (
        _lifecycle_rule("vulnerable", "deprecate"),
        ("approved", "deprecated"),
    ),
}
# The relays: no event of their own (asserted below), each with what records its work.
RELAYS = {
    "approvals.tasks.requeue_stuck_checks": "enqueues run_promotion_checks, whose events "
    "name that task's own id",
    "approvals.tasks.relay_outbox": "sends outbox rows (webhook deliveries, notifications), "
    "each recorded on its row",
    "approvals.tasks.dispatch_webhooks": "the relay's former name: runs relay_outbox",
    "approvals.tasks.deliver_webhook": "one delivery attempt, recorded as a WebhookAttempt",
    "audit.tasks.seal_audit_log": "appends the log's own leaves and signed tree heads",
}


def test_every_registered_task_is_a_case():
    # Given the Celery app's tasks / Then each is a changing task or a relay, both run below
    assert registered_tasks() == set(CHANGING) | set(RELAYS)


@pytest.mark.parametrize("name", sorted(CHANGING))
def test_each_changing_task_writes_exactly_its_events_naming_its_task_id(name, settings, tmp_path):
    # Given the state the task's sweep finds
    settings.GOVBOARD_RUN_CHECKS_INLINE = False
    settings.MEDIA_ROOT = str(tmp_path)
    setup, moves = CHANGING[name]
    run, verbs = setup()
    mark = log_mark()

    # When the worker runs it once
    result = run()

    # Then exactly its events are written, as the system with the task's id
    assert result.successful(), result.traceback
    events = assert_audited_once(mark, verbs, Acting(task_id=TASK_ID))
    if moves is not None:
        assert_moved(events[0], *moves)


def test_requeueing_stuck_checks_writes_no_event_of_its_own():
    # Given a request left submitted for an hour (its enqueue was lost), with no evidence
    PromotionRequestFactory(
        version=ready_version(),
        state="submitted",
        state_changed_at=timezone.now() - timedelta(hours=1),
    )
    mark = log_mark()

    # When the sweep runs (in tests the task it enqueues runs at once)
    result = approval_tasks.requeue_stuck_checks.apply(task_id=TASK_ID)

    # Then the checks ran under their own task id, and the sweep itself wrote nothing
    assert result.get() == 1
    events = events_since(mark)
    assert [event.verb for event in events] == [
        AuditVerb.PROMOTION_CHECKS_STARTED,
        AuditVerb.PROMOTION_CHECKED,
    ]
    labels = {event.actor_label for event in events}
    assert len(labels) == 1 and labels != {f"system:task {TASK_ID}"}
    assert labels.pop().startswith("system:task ")


def test_the_webhook_relays_write_no_audit_event(settings):
    # Given a deprecation announced to an endpoint nobody listens at
    WebhookEndpointFactory()
    version = ModelVersionFactory(state="candidate", complete=True)
    services.version_deprecate(actor=None, via="system:setup", version=version, reason="test")
    delivery = WebhookDelivery.objects.get()
    mark = log_mark()

    # When the relay runs (by both its names), and one delivery is attempted
    approval_tasks.relay_outbox.apply(task_id=TASK_ID)
    approval_tasks.dispatch_webhooks.apply(task_id=TASK_ID)
    approval_tasks.deliver_webhook.apply(args=[delivery.pk], task_id=TASK_ID, throw=False)

    # Then the attempt is recorded on the delivery, and the audit log is as it was
    assert delivery.attempt_log.exists()
    assert events_since(mark) == []


def test_sealing_the_log_writes_no_audit_event(settings, tmp_path):
    # Given audit events not sealed yet
    settings.GOVBOARD_AUDIT_HEADS_URL = f"file://{tmp_path / 'heads'}"
    settings.GOVBOARD_AUDIT_WITNESS_URL = ""
    version = ModelVersionFactory(state="candidate", complete=True)
    services.version_deprecate(actor=None, via="system:setup", version=version, reason="test")
    mark = log_mark()

    # When the seal job runs
    result = audit_tasks.seal_audit_log.apply(task_id=TASK_ID)

    # Then it sealed them as leaves and wrote no event of its own
    assert result.get() >= 1
    assert LogLeaf.objects.exists()
    assert events_since(mark) == []
