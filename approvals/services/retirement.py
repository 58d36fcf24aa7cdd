"""Deprecated versions are retired once the grace period of the policy that approved them
ends; one a deployment still serves is escalated instead, never retired under it."""

from __future__ import annotations

import logging
from datetime import datetime

from django.utils import timezone

from approvals.hygiene.retiring import retirement_candidates, retirement_verdict
from approvals.services.hygiene import firing_record
from approvals.services.lifecycle import version_retire_if_free
from approvals.services.notifications import CONTACTS, Audience, notify
from audit.services import record
from audit.verbs import AuditVerb
from core.sweeps import SweepReport, sweep
from registry.models import ModelVersion

#: The ``LifecycleRuleFiring.rule`` of an escalated retirement (one per deprecation).
RETIREMENT_BLOCKED = "retirement_blocked"
logger = logging.getLogger(__name__)


def retirement_sweep(
    *, via: str, now: datetime | None = None, chunk_size: int = 200
) -> SweepReport:
    """Retire every deprecated version whose grace period (``retirement_grace_days`` of the
    policy snapshot it was approved under; 30 days if it never was) has run out.

    Through the one sweep loop; each version is retired by the lifecycle service in its
    own transaction (request then version locked, audit event). A version another sweep
    or a manager moved meanwhile is left for later. One a deployment still serves is not
    retired: the owner, backup owner, escalation contact and the team's governance
    managers are told, once per deprecation, which deployments hold it.
    """
    now = now or timezone.now()
    deprecated = retirement_candidates()

    def retire(version_id: int) -> bool:
        row = deprecated.filter(pk=version_id).first()
        verdict = row and retirement_verdict(row, now=now)
        if not verdict:
            return False
        # Retired under the lock only if nothing serves it then (the registry re-checks).
        retired, serving = version_retire_if_free(
            version_id=version_id, via=via, reason=verdict.reason, now=now
        )
        if serving:
            escalate_served_retirement(
                version_id=version_id, deployments=serving, grace=verdict.grace, via=via, now=now
            )
        return retired

    return sweep(
        name="retire-after-grace", candidates=deprecated, handle=retire, chunk_size=chunk_size
    )


def versions_retire_after_grace(
    *, via: str, now: datetime | None = None, chunk_size: int = 200
) -> int:
    """``retirement_sweep``; returns how many versions were retired."""
    return retirement_sweep(via=via, now=now, chunk_size=chunk_size).changed


def escalate_served_retirement(
    *, version_id: int, deployments: list[int], grace: int, via: str, now: datetime
) -> bool:
    """Record and tell, once per deprecation, that a version past its grace still serves.

    Runs in the retirement's transaction, with the version locked by it. The firing's
    episode is the deprecation moment: a later sweep finds it and tells nobody again.
    """
    version = ModelVersion.objects.select_related("registered_model__team").get(pk=version_id)
    reason = (
        f"the retirement grace of {grace} days has ended but {len(deployments)} "
        f"deployment(s) still serve it (ids {', '.join(map(str, deployments[:10]))}): "
        "end them, or retire it as break-glass"
    )
    evidence = {"deployments": deployments, "deprecated_at": version.deprecated_at.isoformat()}
    firing = firing_record(
        version=version,
        rule=RETIREMENT_BLOCKED,
        episode=f"deprecated:{version.deprecated_at.isoformat()}",
        action="escalate",
        reason=reason,
        evidence=evidence,
        via=via,
        fired_at=now,
    )
    if firing is None:
        return False  # escalated already for this deprecation
    event = record(
        actor=None,
        actor_label=via,
        verb=AuditVerb.RETIREMENT_ESCALATED,
        target=version,
        team_id=version.registered_model.team_id,
        data={"reason": reason, "evidence": evidence, "firing": firing.pk},
    )
    logger.warning("Version %s is past its grace but still served: escalated.", version_id)
    notify(
        event=event,
        version=version,
        subject=f"{version} cannot be retired: still served",
        body=f"{version}: {reason}.\n",
        audience=(*CONTACTS, Audience.MANAGERS),
        key=f"lifecycle:{firing.pk}",
    )
    return True
