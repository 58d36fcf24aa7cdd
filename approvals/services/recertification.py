"""Re-certification: an approved version's approval extended without a new version.

Before the approval runs out, the model's owner (or backup owner) opens a
re-certification request for the same version. It needs fresh evidence — an eval
package and both scan reports uploaded after the approval it renews — and then goes the
way of every promotion request: the automated checks (on the newest evidence), the
review queue, sign-offs by the same quorum (the approving request's policy snapshot),
and a signed decision record; on approval the version stays approved and its expiry
moves (``registry.services.version_approval_extend``).

The scheduler reminds the owners at 30, 7 and 1 day(s) before expiry, each reminder
once per approval (its key names the expiry it is about, so an extended approval is
reminded again).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from approvals.choices import RequestPurpose, RequestState
from approvals.models import Notification, PromotionRequest
from approvals.services.notifications import notify
from approvals.services.requests import open_request
from audit.services import actor_label_for, record
from audit.verbs import AuditVerb
from core.errors import IllegalTransition, InvalidInput, NotPermitted
from core.sweeps import sweep
from registry import services as registry_services
from registry.choices import EvidenceKind, VersionState
from registry.models import Evidence, ModelVersion

#: The evidence a re-certification must bring anew: evals and both scans.
FRESH_EVIDENCE_KINDS = (
    EvidenceKind.EVAL_PACKAGE,
    EvidenceKind.DEPENDENCY_SCAN,
    EvidenceKind.ARTIFACT_SCAN,
)
#: Days before expiry at which the owners are reminded, largest first.
REMINDER_DAYS = (30, 7, 1)


def approved_by_request(version: ModelVersion) -> PromotionRequest | None:
    """The request whose approval is in force: the latest approved one of the version."""
    return (
        PromotionRequest.objects.filter(version=version, state=RequestState.APPROVED)
        .select_related("policy")
        .order_by("-decided_at", "-pk")
        .first()
    )


def stale_evidence_kinds(version: ModelVersion, *, approved_at: datetime) -> list[str]:
    """Which of ``FRESH_EVIDENCE_KINDS`` has no upload after ``approved_at`` (one query)."""
    newest = dict(
        Evidence.objects.filter(version=version, kind__in=FRESH_EVIDENCE_KINDS)
        .values_list("kind")
        .annotate(newest=Max("uploaded_at"))
    )
    return [
        kind
        for kind in FRESH_EVIDENCE_KINDS
        if newest.get(kind) is None or newest[kind] <= approved_at
    ]


@transaction.atomic
def recertification_request_submit(
    *,
    actor: Any,
    version: ModelVersion | int,
    rollback_target: ModelVersion | None = None,
    rollback_plan: str = "",
    run_checks_now: bool | None = None,
    now: datetime | None = None,
) -> PromotionRequest:
    """Open a re-certification request for an approved version that has not expired.

    Refused (nothing written) unless ``actor`` is the model's owner or backup owner, the
    version is approved and its approval still runs, and an eval package, a dependency
    scan and an artifact scan were uploaded after the approval it renews.
    """
    now = now or timezone.now()
    locked = registry_services.lock_version(version)
    model = locked.registered_model
    if not (actor.is_active and actor.pk in (model.owner_id, model.backup_owner_id)):
        raise NotPermitted("Only the model's owner or backup owner may request re-certification.")
    if locked.state != VersionState.APPROVED:
        raise IllegalTransition(
            f"Only an approved version is re-certified; this one is {locked.state}.",
            errors={"state": [locked.state]},
        )
    if locked.approval_expires_at is not None and locked.approval_expires_at <= now:
        raise IllegalTransition(
            "This approval has expired: the version is deprecated at the next sweep; register "
            "and promote a new version instead."
        )
    approving = approved_by_request(locked)
    if approving is None:
        raise IllegalTransition("This version has no approved request to re-certify.")
    approved_at = approving.decided_at or locked.approved_at
    stale = stale_evidence_kinds(locked, approved_at=approved_at)
    if stale:
        raise InvalidInput(
            "Re-certification needs evidence newer than the approval "
            f"({approved_at:%Y-%m-%d %H:%M %Z}): upload a new " + ", ".join(stale) + ".",
            errors={"evidence": stale},
        )
    return open_request(
        actor=actor,
        version=locked,
        policy=approving.policy,
        policy_snapshot=approving.policy_snapshot,  # the same quorum signs
        purpose=RequestPurpose.RECERTIFICATION,
        rollback_target=rollback_target,
        rollback_plan=rollback_plan,
        run_checks_now=run_checks_now,
    )


def reminder_due(expires_at: datetime, *, now: datetime) -> int | None:
    """The reminder (30, 7 or 1) whose window ``now`` is in, or None: the tightest one
    reached, so a job that missed the 30-day mark on a 5-day-old approval sends the
    7-day reminder alone."""
    left = expires_at - now
    if left <= timedelta(0):
        return None
    due = [days for days in REMINDER_DAYS if left <= timedelta(days=days)]
    return min(due) if due else None


def reminder_key(version: ModelVersion, days: int) -> str:
    return f"expiry-reminder:{version.pk}:{version.approval_expires_at:%Y%m%dT%H%M%S}:{days}d"


def approval_expiry_reminders_send(
    *, via: str, now: datetime | None = None, chunk_size: int = 200
) -> int:
    """Remind the owners of every approval expiring within 30 days, once per reminder;
    returns how many reminders were written (sent by the outbox relay)."""
    now = now or timezone.now()
    expiring = ModelVersion.objects.filter(
        state=VersionState.APPROVED,
        approval_expires_at__gt=now,
        approval_expires_at__lte=now + timedelta(days=max(REMINDER_DAYS)),
    )

    def remind(version_id: int) -> bool:
        locked = (
            expiring.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=version_id)
            .select_related("registered_model__owner", "registered_model__backup_owner")
            .first()
        )
        if locked is None:
            return False  # another sweep has it, or it changed meanwhile
        days = reminder_due(locked.approval_expires_at, now=now)
        key = reminder_key(locked, days)
        if Notification.objects.filter(key=key).exists():
            return False  # reminded already
        event = record(
            actor=None,
            actor_label=actor_label_for(None, via=via),
            verb=AuditVerb.VERSION_EXPIRY_REMINDED,
            target=locked,
            team_id=locked.registered_model.team_id,
            data={
                "reminder_days": days,
                "approval_expires_at": locked.approval_expires_at.isoformat(),
                "rule": "expiry",
                # The event announces; what it adds is this reminder (none before).
                "before": None,
                "after": {"notification": key},
            },
        )
        within = f"within {days} day{'s' if days != 1 else ''}"
        notify(
            event=event,
            version=locked,
            key=key,
            subject=f"Approval of {locked} expires {within}",
            body=(
                f"The approval of {locked} ends on {locked.approval_expires_at:%Y-%m-%d %H:%M %Z}"
                f" ({within}). To keep it approved, upload a fresh eval package and scan "
                "reports and request re-certification; otherwise it is deprecated when the "
                "approval runs out."
            ),
            webhooks=False,
        )
        return True

    return sweep(
        name="approval-expiry-reminders", candidates=expiring, handle=remind, chunk_size=chunk_size
    ).changed
