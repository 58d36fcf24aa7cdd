"""Celery tasks: thin, idempotent wrappers over approval services. They take ids and
re-fetch; running one twice changes nothing the second time."""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings

from approvals import services


@shared_task(bind=True, name="approvals.tasks.run_promotion_checks", acks_late=True)
def run_promotion_checks(self, request_id: int) -> str | None:
    """Run the automated checks of one request (no-op unless submitted/checking)."""
    request = services.promotion_request_run_checks(
        request_id=request_id, via=f"system:task {self.request.id}"
    )
    return request.state if request else None


@shared_task(name="approvals.tasks.requeue_stuck_checks")
def requeue_stuck_checks() -> int:
    """Re-enqueue requests waiting in submitted/checking too long (the outbox sweep)."""
    minutes = int(getattr(settings, "GOVBOARD_CHECKS_STUCK_MINUTES", 5))
    ids = services.requests_stuck_in_checks(older_than=timedelta(minutes=minutes))
    for request_id in ids:
        run_promotion_checks.delay(request_id)
    return len(ids)


@shared_task(name="approvals.tasks.relay_outbox")
def relay_outbox() -> dict:
    """The one outbox relay (beat, and nudged after each commit that wrote to the
    outbox): committed webhook deliveries never attempted and overdue retries go to
    ``deliver_webhook``; due email notifications are sent here, each claimed once."""
    ids = services.webhooks_dispatch() + services.deliveries_due()
    for delivery_id in dict.fromkeys(ids):
        deliver_webhook.delay(delivery_id)
    return {"webhooks": len(ids), **services.notifications_relay()}


@shared_task(name="approvals.tasks.dispatch_webhooks")
def dispatch_webhooks() -> dict:
    """The relay's former name: schedules and queued messages written before it was
    renamed still run the one relay."""
    return relay_outbox()


@shared_task(bind=True, name="approvals.tasks.deliver_webhook", max_retries=None)
def deliver_webhook(self, delivery_id: int) -> str:
    """One attempt; on failure Celery retries with exponential backoff (every attempt is
    logged in ``WebhookAttempt``; the periodic dispatcher also picks up due retries)."""
    state, retry_in = services.webhook_deliver(delivery_id=delivery_id)
    if retry_in is not None:
        raise self.retry(countdown=retry_in)
    return state


@shared_task(bind=True, name="approvals.tasks.remind_expiring_approvals")
def remind_expiring_approvals(self, *, now: datetime | None = None) -> int:
    """Remind owners 30, 7 and 1 day(s) before their approval expires (each once)."""
    return services.approval_expiry_reminders_send(via=f"system:task {self.request.id}", now=now)


@shared_task(bind=True, name="approvals.tasks.escalate_overdue_reviews")
def escalate_overdue_reviews(self, *, now: datetime | None = None) -> int:
    """Tell the escalation contact and the managers of each review past its SLA, once
    per breach."""
    return services.overdue_reviews_escalate(via=f"system:task {self.request.id}", now=now)


@shared_task(bind=True, name="approvals.tasks.expire_stale_requests")
def expire_stale_requests(self, *, now: datetime | None = None) -> int:
    """Expire requests left in review past their due date and the grace period.

    ``now`` is the moment the sweep judges by (default: the current time).
    """
    return services.promotion_requests_expire(via=f"system:task {self.request.id}", now=now)


@shared_task(bind=True, name="approvals.tasks.retire_after_grace")
def retire_after_grace(self, *, now: datetime | None = None) -> int:
    """Retire deprecated versions whose policy's retirement grace has ended.

    ``now`` is the moment the sweep judges by (default: the current time).
    """
    return services.versions_retire_after_grace(via=f"system:task {self.request.id}", now=now)


@shared_task(bind=True, name="approvals.tasks.expire_approvals")
def expire_approvals(self, *, now: datetime | None = None) -> int:
    """Deprecate approved versions whose approval validity has run out.

    ``now`` is the moment the sweep judges by (default: the current time).
    """
    return services.versions_expire_approvals(via=f"system:task {self.request.id}", now=now)


# --- the lifecycle rules (issue 12): one task per rule, each a thin wrapper over its sweep


def _rule(task, rule: str, now: datetime | None) -> int:
    from approvals.hygiene.rules import LifecycleRule

    report = services.lifecycle_rule_sweep(
        rule=LifecycleRule(rule), via=f"system:task {task.request.id}", now=now
    )
    return report.changed


@shared_task(bind=True, name="approvals.tasks.lifecycle_stale")
def lifecycle_stale(self, *, now: datetime | None = None) -> int:
    """The ``stale`` rule: approved versions nothing serves and nothing touched for the
    policy's ``after_days``."""
    return _rule(self, "stale", now)


@shared_task(bind=True, name="approvals.tasks.lifecycle_unowned")
def lifecycle_unowned(self, *, now: datetime | None = None) -> int:
    """The ``unowned`` rule: owner and backup owner both inactive, or a bounced contact."""
    return _rule(self, "unowned", now)


@shared_task(bind=True, name="approvals.tasks.lifecycle_vulnerable")
def lifecycle_vulnerable(self, *, now: datetime | None = None) -> int:
    """The ``vulnerable`` rule: it first reads the scan reports uploaded after approval,
    then acts on versions whose newest report has an open critical finding."""
    return _rule(self, "vulnerable", now)
