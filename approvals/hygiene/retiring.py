"""Which deprecated versions the retirement sweep would retire, or escalate, and why: the
one decision the sweep and the dry run share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, IntegerField, JSONField, OuterRef, QuerySet, Subquery

from approvals.choices import RequestState
from approvals.hygiene.rules import LifecycleAction
from approvals.models import LifecycleRuleFiring, PromotionRequest
from registry.choices import VersionState
from registry.models import Deployment, ModelVersion

DEFAULT_GRACE_DAYS = 30
RETIRE = "retire"
ESCALATE = "escalate"


def retirement_candidates() -> QuerySet:
    """Deprecated versions the retirement sweep looks at, with the snapshot of the policy
    that approved them and how many deployments still serve them. Left out: versions a
    lifecycle rule deprecated with the action ``deprecate`` (kept deprecated until a
    person retires them)."""
    kept = LifecycleRuleFiring.objects.filter(
        version_id=OuterRef("pk"), action=LifecycleAction.DEPRECATE
    )
    snapshot = (
        PromotionRequest.objects.filter(version_id=OuterRef("pk"), state=RequestState.APPROVED)
        .order_by("-id")
        .values("policy_snapshot")[:1]
    )
    serving = (
        Deployment.objects.filter(version_id=OuterRef("pk"), ended_at__isnull=True)
        .order_by()
        .values("version_id")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    return (
        ModelVersion.objects.filter(state=VersionState.DEPRECATED, deprecated_at__isnull=False)
        .exclude(Exists(kept))
        .select_related("registered_model__team")
        .annotate(
            approved_snapshot=Subquery(snapshot, output_field=JSONField()),
            serving_count=Subquery(serving, output_field=IntegerField()),
        )
    )


def grace_days(snapshot: dict | None) -> int:
    """The retirement grace of the policy snapshot a version was approved under."""
    value = (snapshot or {}).get("retirement_grace_days")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return DEFAULT_GRACE_DAYS


@dataclass(frozen=True)
class RetirementVerdict:
    action: str  # RETIRE or ESCALATE
    grace: int
    reason: str


def retirement_verdict(version: ModelVersion, *, now: datetime) -> RetirementVerdict | None:
    """For one row of ``retirement_candidates``: retire it (grace over, nothing serves it),
    escalate (grace over, still served), or nothing yet."""
    grace = grace_days(version.approved_snapshot)
    if version.deprecated_at + timedelta(days=grace) > now:
        return None
    reason = f"retirement grace of {grace} days after deprecation has ended"
    return RetirementVerdict(ESCALATE if version.serving_count else RETIRE, grace, reason)
