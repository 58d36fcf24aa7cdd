"""The lifecycle rules' sweeps: each rule notifies, or deprecates, the approved versions
that break it, as the governing policy says (``approvals.hygiene``).

One sweep per rule, through the one sweep loop (``core.sweeps``): candidates are read in
chunks by id with no lock; each version is then handled in its own transaction, its open
promotion request locked first and the version second (ADR 0010) with ``skip_locked``,
re-read with the rule's facts under that lock and judged by the same ``verdict_for`` the
dry run uses. What the rule did is written as a ``LifecycleRuleFiring`` unique per
(version, rule, episode): a second run, or a concurrent one, finds it and changes
nothing. The audit event names the rule, the policy and the evidence, with the task as
the actor (``via``); the owner, backup owner and escalation contact are told through the
notification outbox in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals.hygiene.rules import LifecycleAction, LifecycleRule
from approvals.hygiene.verdicts import (
    RULE_ORDER,
    Policies,
    Verdict,
    rule_candidates,
    verdict_for,
)
from approvals.models import LifecycleRuleFiring, PromotionRequest
from approvals.services.lifecycle import lock_open_requests, withdraw_for
from approvals.services.notifications import notify
from approvals.services.scan_reports import scan_reports_read
from audit.services import record
from audit.verbs import AuditVerb
from core.sweeps import SweepReport, sweep
from registry import services as registry_services
from registry.choices import VersionState
from registry.models import ModelVersion


def lifecycle_rule_sweep(
    *,
    rule: LifecycleRule,
    via: str,
    now: datetime | None = None,
    chunk_size: int = 200,
) -> SweepReport:
    """Run one rule over every approved version at ``now``; the report counts versions
    the rule acted on (notified or deprecated)."""
    now = now or timezone.now()
    if rule == LifecycleRule.VULNERABLE:
        scan_reports_read(now=now)  # reports uploaded since the last run count now
    policies = Policies.load()
    candidates = rule_candidates(rule, now=now, policies=policies)

    def act(version_id: int) -> bool:
        open_requests = lock_open_requests(version_id)
        locked = (
            ModelVersion.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=version_id, state=VersionState.APPROVED)
            .select_related("registered_model__team")
            .first()
        )
        if locked is None:
            return False  # another sweep has it, or it is no longer approved
        row = candidates.filter(pk=version_id).first()  # the rule's facts, under the lock
        verdict = row and verdict_for(rule, row, now=now, policies=policies)
        if not verdict:
            return False
        return carry_out(
            verdict=verdict, version=locked, open_requests=open_requests, via=via, now=now
        )

    return sweep(name=f"lifecycle-{rule}", candidates=candidates, handle=act, chunk_size=chunk_size)


def lifecycle_sweep(*, via: str, now: datetime | None = None) -> list[SweepReport]:
    """Every rule, most urgent first (``manage.py lifecycle_sweep``), then retirement."""
    from approvals.services.retirement import retirement_sweep

    now = now or timezone.now()
    reports = [lifecycle_rule_sweep(rule=rule, via=via, now=now) for rule in RULE_ORDER]
    return [*reports, retirement_sweep(via=via, now=now)]


def carry_out(
    *,
    verdict: Verdict,
    version: ModelVersion,
    open_requests: list[PromotionRequest],
    via: str,
    now: datetime,
) -> bool:
    """Do what ``verdict`` says to the locked ``version``, once: False when this episode
    was already acted on (the firing exists)."""
    firing = firing_record(
        version=version,
        rule=verdict.rule,
        episode=verdict.episode,
        action=verdict.action,
        policy_id=verdict.policy_id,
        policy_version=verdict.policy_version,
        reason=verdict.reason,
        evidence=verdict.evidence,
        via=via,
        fired_at=now,
    )
    if firing is None:
        return False
    data = _audit_data(verdict, firing)
    if verdict.action == LifecycleAction.NOTIFY:
        event = record(
            actor=None,
            actor_label=via,
            verb=AuditVerb.LIFECYCLE_RULE_NOTIFIED,
            target=version,
            team_id=version.registered_model.team_id,
            # The rule changes nothing: what it adds is the owners' notification.
            data={
                "reason": verdict.reason,
                **data,
                "before": None,
                "after": {"notification": f"lifecycle:{firing.pk}"},
            },
        )
        subject = f"{version}: {verdict.rule} (no change made)"
    else:
        version = registry_services.version_deprecate(
            actor=None, via=via, version=version, reason=verdict.reason, extra=data
        )
        withdraw_for(None, open_requests, f"the version was deprecated ({verdict.reason})", via)
        event = version.transition_event
        subject = f"{version} was deprecated: {verdict.rule}"
    notify(
        event=event,
        version=version,
        subject=subject,
        body=_body(verdict, version),
        key=f"lifecycle:{firing.pk}",
    )
    return True


def firing_record(**fields: Any) -> LifecycleRuleFiring | None:
    """Write that a rule acted on a version for an episode, once: None when that episode
    was already acted on (the unique constraint; a concurrent twin that got there first
    blocks this insert until it commits). A savepoint keeps the caller's transaction
    usable either way."""
    try:
        with transaction.atomic():
            return LifecycleRuleFiring.objects.create(**fields)
    except IntegrityError:
        return None


def _audit_data(verdict: Verdict, firing: LifecycleRuleFiring) -> dict[str, Any]:
    return {
        "rule": str(verdict.rule),
        "action": str(verdict.action),
        "evidence": verdict.evidence,
        "policy": {"id": verdict.policy_id, "version": verdict.policy_version},
        "firing": firing.pk,
    }


def _body(verdict: Verdict, version: ModelVersion) -> str:
    what = {
        LifecycleAction.NOTIFY: "Nothing was changed; the policy asks that you be told.",
        LifecycleAction.DEPRECATE: (
            "The version is deprecated: new promotion requests and deployments are refused. "
            "It stays deprecated until a governance manager retires it."
        ),
        LifecycleAction.DEPRECATE_AND_RETIRE: (
            "The version is deprecated: new promotion requests and deployments are refused. "
            "It will be retired when the policy's grace period ends, unless a deployment "
            "still serves it."
        ),
    }[verdict.action]
    return f"{version}: {verdict.reason}.\n\n{what}\n"


def versions_expire_approvals(
    *, via: str, now: datetime | None = None, chunk_size: int = 200
) -> int:
    """The ``expired`` rule: approved versions whose approval ran out are deprecated (or
    their people told, if the governing policy says ``notify``); returns how many."""
    return lifecycle_rule_sweep(
        rule=LifecycleRule.EXPIRED, via=via, now=now, chunk_size=chunk_size
    ).changed
