"""The lifecycle rules' sweeps: each rule notifies, or deprecates, the approved versions
that break it, as the governing policy says (``approvals.hygiene``).

One sweep per rule, through the one sweep loop (``core.sweeps``): candidates are read in
chunks by id with no lock; each chunk is then handled in one transaction, its versions'
open promotion requests locked first and the versions second (ADR 0010) with
``skip_locked``, re-read with the rule's facts under that lock (one query) and judged by
the same ``verdict_for`` the dry run uses; the changes, history rows, audit events,
firings and notifications are written in bulk (``carry_out_many``). A chunk that fails is
handled again one version per transaction (``carry_out``), which writes the same rows.
What the rule did is written as a ``LifecycleRuleFiring`` unique per (version, rule,
episode): a second run, or a concurrent one, finds it and changes
nothing. The audit event names the rule, the policy and the evidence, with the task as
the actor (``via``); the owner, backup owner and escalation contact are told through the
notification outbox in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
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
from approvals.services.lifecycle import lock_open_requests, lock_open_requests_of, withdraw_for
from approvals.services.notifications import Notice, notify, notify_many
from approvals.services.scan_reports import scan_reports_read
from audit.services import record, record_many
from audit.verbs import AuditVerb
from core.sweeps import SweepReport, sweep
from registry import services as registry_services
from registry.choices import VersionState
from registry.models import ModelVersion
from registry.services.version_batches import versions_deprecate_locked


def lifecycle_rule_sweep(
    *,
    rule: LifecycleRule,
    via: str,
    now: datetime | None = None,
    chunk_size: int | None = None,
) -> SweepReport:
    """Run one rule over every approved version at ``now``, ``chunk_size`` versions per
    transaction (default ``settings.GOVBOARD_SWEEP_CHUNK``); the report counts versions
    the rule acted on (notified or deprecated)."""
    now = now or timezone.now()
    chunk_size = chunk_size or settings.GOVBOARD_SWEEP_CHUNK
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

    def act_on_chunk(version_ids: list[int]) -> set[int]:
        open_requests = lock_open_requests_of(version_ids)
        locked = {
            version.pk: version
            for version in ModelVersion.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=version_ids, state=VersionState.APPROVED)
            .select_related(
                "registered_model__team",
                "registered_model__owner",
                "registered_model__backup_owner",
            )
        }
        if not locked:
            return set()  # other sweeps have them, or they are no longer approved
        verdicts = [
            verdict
            for row in candidates.filter(pk__in=list(locked))  # the facts, under the locks
            if (verdict := verdict_for(rule, row, now=now, policies=policies))
        ]
        return carry_out_many(
            verdicts=verdicts, versions=locked, open_requests=open_requests, via=via, now=now
        )

    return sweep(
        name=f"lifecycle-{rule}",
        candidates=candidates,
        handle=act,
        handle_chunk=act_on_chunk,
        chunk_size=chunk_size,
    )


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
    firing = firing_record(**_firing_fields(verdict, version, via, now))
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
            data=_notified_data(verdict, firing, data),
        )
    else:
        version = registry_services.version_deprecate(
            actor=None, via=via, version=version, reason=verdict.reason, extra=data
        )
        withdraw_for(None, open_requests, f"the version was deprecated ({verdict.reason})", via)
        event = version.transition_event
    notify(
        event=event,
        version=version,
        subject=_subject(verdict, version),
        body=_body(verdict, version),
        key=f"lifecycle:{firing.pk}",
    )
    return True


def carry_out_many(
    *,
    verdicts: list[Verdict],
    versions: dict[int, ModelVersion],
    open_requests: dict[int, list[PromotionRequest]],
    via: str,
    now: datetime,
) -> set[int]:
    """``carry_out`` for a chunk's verdicts, on its locked ``versions`` (by id), in the
    caller's transaction and in bulk: the same firings, state changes, history rows,
    audit events and notifications. Returns the ids acted on. A firing that already
    exists (a twin sweep got there between the re-read and this insert) raises, and the
    sweep handles the chunk again one version at a time."""
    if not verdicts:
        return set()
    firings = LifecycleRuleFiring.objects.bulk_create(
        LifecycleRuleFiring(**_firing_fields(verdict, versions[verdict.version_id], via, now))
        for verdict in verdicts
    )
    notified, deprecated = [], []
    for verdict, firing in zip(verdicts, firings, strict=True):
        data = _audit_data(verdict, firing)
        if verdict.action == LifecycleAction.NOTIFY:
            notified.append((verdict, firing, data))
        else:
            deprecated.append((verdict, firing, data))
    events = record_many(
        actor=None,
        actor_label=via,
        verb=AuditVerb.LIFECYCLE_RULE_NOTIFIED,
        entries=[
            (
                versions[verdict.version_id],
                versions[verdict.version_id].registered_model.team_id,
                _notified_data(verdict, firing, data),
            )
            for verdict, firing, data in notified
        ],
    )
    versions_deprecate_locked(
        via=via,
        versions=[versions[verdict.version_id] for verdict, _, _ in deprecated],
        reasons={verdict.version_id: verdict.reason for verdict, _, _ in deprecated},
        extras={verdict.version_id: data for verdict, _, data in deprecated},
    )
    for verdict, _, _ in deprecated:
        why = f"the version was deprecated ({verdict.reason})"
        withdraw_for(None, open_requests.get(verdict.version_id, []), why, via)
    acted = [(v, f, event) for (v, f, _), event in zip(notified, events, strict=True)]
    acted += [(v, f, versions[v.version_id].transition_event) for v, f, _ in deprecated]
    notify_many(
        [
            Notice(
                event=event,
                version=versions[verdict.version_id],
                subject=_subject(verdict, versions[verdict.version_id]),
                body=_body(verdict, versions[verdict.version_id]),
                key=f"lifecycle:{firing.pk}",
            )
            for verdict, firing, event in acted
        ]
    )
    return {verdict.version_id for verdict in verdicts}


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


def _firing_fields(
    verdict: Verdict, version: ModelVersion, via: str, now: datetime
) -> dict[str, Any]:
    return {
        "version": version,
        "rule": verdict.rule,
        "episode": verdict.episode,
        "action": verdict.action,
        "policy_id": verdict.policy_id,
        "policy_version": verdict.policy_version,
        "reason": verdict.reason,
        "evidence": verdict.evidence,
        "via": via,
        "fired_at": now,
    }


def _notified_data(
    verdict: Verdict, firing: LifecycleRuleFiring, data: dict[str, Any]
) -> dict[str, Any]:
    # The rule changes nothing: what it adds is the owners' notification.
    return {
        "reason": verdict.reason,
        **data,
        "before": None,
        "after": {"notification": f"lifecycle:{firing.pk}"},
    }


def _subject(verdict: Verdict, version: ModelVersion) -> str:
    if verdict.action == LifecycleAction.NOTIFY:
        return f"{version}: {verdict.rule} (no change made)"
    return f"{version} was deprecated: {verdict.rule}"


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
    *, via: str, now: datetime | None = None, chunk_size: int | None = None
) -> int:
    """The ``expired`` rule: approved versions whose approval ran out are deprecated (or
    their people told, if the governing policy says ``notify``); returns how many."""
    return lifecycle_rule_sweep(
        rule=LifecycleRule.EXPIRED, via=via, now=now, chunk_size=chunk_size
    ).changed
