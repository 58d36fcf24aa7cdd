"""Overdue reviews escalate: at SLA breach, the escalation contact and the team's
governance managers are told, once per breach.

A breach is a request still open past its ``due_at``. Its key names the due date it
breached, so expediting a request (a new, earlier due date) that then runs late again is
a second breach, and the sweep running every few minutes is not.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from approvals.assessment import assess
from approvals.models import Notification, PromotionRequest
from approvals.selectors import overdue_q
from approvals.services.notifications import Audience, notify
from audit.services import actor_label_for, record
from audit.verbs import AuditVerb
from core.sweeps import sweep


def breach_key(request: PromotionRequest) -> str:
    return f"review-overdue:{request.pk}:{request.due_at:%Y%m%dT%H%M%S}"


def overdue_reviews_escalate(
    *, via: str, now: datetime | None = None, chunk_size: int = 200
) -> int:
    """Escalate every open request past its due date not escalated for this breach;
    returns how many were escalated (each: one audit event, one notification)."""
    now = now or timezone.now()
    overdue = PromotionRequest.objects.filter(overdue_q(now))

    def escalate(request_id: int) -> bool:
        locked = (
            overdue.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=request_id)
            .select_related("version__registered_model__team")
            .first()
        )
        if locked is None:
            return False  # decided meanwhile, or another sweep has it
        key = breach_key(locked)
        if Notification.objects.filter(key=key).exists():
            return False  # this breach was escalated already
        waiting = assess(locked).waiting_for if locked.state == "in_review" else []
        version = locked.version
        event = record(
            actor=None,
            actor_label=actor_label_for(None, via=via),
            verb=AuditVerb.PROMOTION_ESCALATED,
            target=locked,
            team_id=version.registered_model.team_id,
            data={
                "due_at": locked.due_at.isoformat(),
                "state": locked.state,
                "waiting_for": waiting,
                "rule": "review-sla",
                # The event announces; what it adds is this breach's escalation.
                "before": None,
                "after": {"notification": key},
            },
        )
        overdue_days = (now - locked.due_at).days
        notify(
            event=event,
            version=version,
            key=key,
            audience=(Audience.ESCALATION_CONTACT, Audience.MANAGERS),
            subject=f"Overdue review: PR-{locked.pk} for {version} ({locked.state})",
            body=(
                f"The {locked.get_purpose_display().lower()} request PR-{locked.pk} for "
                f"{version} was due {locked.due_at:%Y-%m-%d %H:%M %Z} and is still "
                f"{locked.get_state_display().lower()}"
                + (f" ({overdue_days} days late)" if overdue_days else "")
                + ".\n"
                + ("Waiting for: " + "; ".join(waiting) + "." if waiting else "")
            ),
            webhooks=False,
        )
        return True

    return sweep(
        name="escalate-overdue-reviews", candidates=overdue, handle=escalate, chunk_size=chunk_size
    ).changed
