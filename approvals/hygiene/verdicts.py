"""The one place that decides what a lifecycle rule would do to which version, and why.

``rule_candidates`` is the set-based read: approved versions that may break the rule,
each annotated (in the same single query) with the facts the rule judges: the governing
policy, the last activity, whether a deployment serves it, the scan report and its count
of open critical findings, the bounce of its escalation contact. ``verdict_for`` judges
one annotated row against the rule as its governing policy configures it. The dry run,
the admin preview and the real sweep (which re-reads the row under its lock) all call
these two; there is no second copy of a rule.

Which policy governs a version: the policy its newest approved promotion request was
judged by, as that policy reads now (publishing a policy edits the same row, so a rule
added later applies to versions approved before), or the default policy for a version
with no approved request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    BooleanField,
    CharField,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Concat, Greatest, Lower

from approvals.choices import RequestState
from approvals.hygiene.rules import LifecycleAction, LifecycleRule, RuleConfig, configured_rules
from approvals.models import (
    ContactBounce,
    GovernancePolicy,
    LifecycleRuleFiring,
    PromotionRequest,
    ScanReportReading,
)
from registry.choices import EvidenceKind, FindingStatus, Severity, VersionState
from registry.models import (
    Deployment,
    Evidence,
    FindingTriage,
    ModelVersion,
    RegisteredModel,
    VulnerabilityFinding,
)

#: The order a full sweep runs the rules in: the most urgent reason first, so a version
#: that is both vulnerable and stale is deprecated as vulnerable.
RULE_ORDER = (
    LifecycleRule.EXPIRED,
    LifecycleRule.VULNERABLE,
    LifecycleRule.UNOWNED,
    LifecycleRule.STALE,
)


@dataclass(frozen=True)
class Verdict:
    """What one rule would do to one version, why, and on which evidence."""

    rule: LifecycleRule
    action: LifecycleAction
    version_id: int
    episode: str
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)
    policy_id: int | None = None
    policy_version: int | None = None


@dataclass(frozen=True)
class Policies:
    """Every policy's lifecycle rules, read once per sweep or page (policies are a handful
    of admin-made rows, not a growing table)."""

    by_id: dict[int, GovernancePolicy]
    default_id: int | None

    @classmethod
    def load(cls) -> Policies:
        by_id = {policy.pk: policy for policy in GovernancePolicy.objects.order_by("id")}
        default = next((p.pk for p in by_id.values() if p.is_default), None)
        return cls(by_id=by_id, default_id=default)

    def governing(self, policy_id: int | None) -> GovernancePolicy | None:
        return self.by_id.get(policy_id) or self.by_id.get(self.default_id)

    def config(self, policy_id: int | None, rule: LifecycleRule) -> RuleConfig | None:
        policy = self.governing(policy_id)
        if policy is None:
            return configured_rules(None).get(rule)
        return configured_rules(policy.lifecycle_rules).get(rule)

    def shortest_stale_days(self) -> int | None:
        days = [
            config.after_days
            for policy in self.by_id.values()
            if (config := configured_rules(policy.lifecycle_rules).get(LifecycleRule.STALE))
        ]
        return min(days, default=None)


def _governing_policy_id() -> Subquery:
    return Subquery(
        PromotionRequest.objects.filter(version_id=OuterRef("pk"), state=RequestState.APPROVED)
        .order_by("-id")
        .values("policy_id")[:1],
        output_field=IntegerField(),
    )


def _newest(queryset: QuerySet, column: str) -> Subquery:
    """The largest ``column`` of the rows of ``queryset`` that belong to the outer version."""
    return Subquery(
        queryset.filter(version_id=OuterRef("pk"))
        .order_by()
        .values("version_id")
        .annotate(newest=Max(column))
        .values("newest")[:1],
        output_field=DateTimeField(),
    )


def _fired(rule: LifecycleRule, **condition: Any) -> Exists:
    return Exists(
        LifecycleRuleFiring.objects.filter(version_id=OuterRef("pk"), rule=rule, **condition)
    )


def effective_critical_findings() -> QuerySet:
    """Findings that are open and critical after the security approvers' verdicts: the
    newest triage of the same (vulnerability, package) in the version decides when there
    is one (a finding rated critical by triage counts; one marked fixed or not affected,
    or rated lower, does not), the scanner's own rating otherwise. Unknown severity does
    not count here: the promotion gate blocks on it, but deprecating every approved
    version whose nightly pip-audit names any advisory would make the rule useless."""
    newest_triage = FindingTriage.objects.filter(
        version_id=OuterRef("evidence__version_id"),
        vulnerability_id=OuterRef("vulnerability_id"),
        package=OuterRef("package"),
    ).order_by("-id")
    return VulnerabilityFinding.objects.annotate(
        verdict_status=Subquery(newest_triage.values("status")[:1]),
        verdict_severity=Subquery(newest_triage.values("severity")[:1]),
    ).filter(
        Q(verdict_status__isnull=True, status=FindingStatus.OPEN, severity=Severity.CRITICAL)
        | Q(verdict_status=FindingStatus.OPEN, verdict_severity=Severity.CRITICAL)
    )


def unread_scan_reports() -> QuerySet:
    """Dependency scan reports of approved versions uploaded after approval and not read
    into findings yet (no ``ScanReportReading``): the ``vulnerable`` sweep reads them
    first; the dry run counts them (it reads nothing)."""
    return Evidence.objects.filter(
        kind=EvidenceKind.DEPENDENCY_SCAN,
        version__state=VersionState.APPROVED,
        uploaded_at__gt=F("version__approved_at"),
    ).exclude(Exists(ScanReportReading.objects.filter(evidence_id=OuterRef("pk"))))


def rule_candidates(rule: LifecycleRule, *, now: datetime, policies: Policies) -> QuerySet:
    """Approved versions that may break ``rule`` at ``now``, annotated with what it judges.

    Policy-independent bounds only (the shortest stale period of any policy, for
    instance); ``verdict_for`` applies the governing policy's own settings. Versions the
    rule already acted on for the same episode are left out, so a notified version is not
    read again until something new happens.
    """
    versions = (
        ModelVersion.objects.filter(state=VersionState.APPROVED)
        .select_related("registered_model__team")
        .annotate(governing_policy_id=_governing_policy_id())
    )
    if rule == LifecycleRule.EXPIRED:
        return versions.filter(approval_expires_at__lte=now).exclude(
            _fired(rule, fired_at__gte=OuterRef("approval_expires_at"))
        )
    if rule == LifecycleRule.STALE:
        days = policies.shortest_stale_days()
        if days is None:
            return versions.none()
        since = F("created_at")
        last_activity = Greatest(
            Coalesce("approved_at", since),
            Coalesce(_newest(Deployment.objects.all(), "ended_at"), since),
            Coalesce(_newest(Deployment.objects.all(), "started_at"), since),
            Coalesce(_newest(Evidence.objects.all(), "uploaded_at"), since),
            Coalesce(_newest(PromotionRequest.objects.all(), "created_at"), since),
            since,
            output_field=DateTimeField(),
        )
        cutoff = now - timedelta(days=days)
        return (
            # Plain columns first: the planner checks them before the per-row subqueries,
            # so recently registered or approved versions cost nothing more.
            versions.filter(created_at__lt=cutoff)
            .filter(Q(approved_at__isnull=True) | Q(approved_at__lt=cutoff))
            .annotate(
                last_activity_at=last_activity,
                served=Exists(
                    Deployment.objects.filter(version_id=OuterRef("pk"), ended_at__isnull=True)
                ),
            )
            .filter(served=False, last_activity_at__lt=cutoff)
            .exclude(_fired(rule, fired_at__gte=OuterRef("last_activity_at")))
        )
    if rule == LifecycleRule.UNOWNED:
        # Bounces are stored lower-cased (contact_bounce_record): one hashed lookup of the
        # open ones, not a scan per version.
        open_bounces = ContactBounce.objects.filter(cleared_at__isnull=True)
        bounce = open_bounces.filter(address=OuterRef("contact_key")).order_by("id")
        owners_gone = Q(registered_model__owner__is_active=False) & Q(
            registered_model__backup_owner__is_active=False
        )
        # The (few) models whose owners left or whose contact bounced, read first: as a
        # subquery the planner cannot tell how few they are and walks every version.
        unowned_models = list(
            RegisteredModel.objects.annotate(contact_key=Lower("escalation_contact"))
            .filter(
                Q(owner__is_active=False, backup_owner__is_active=False)
                | Q(contact_key__in=open_bounces.values("address"))
            )
            .values_list("id", flat=True)
        )
        if not unowned_models:
            return versions.none()
        annotated = (
            versions.filter(registered_model_id__in=unowned_models)
            .annotate(
                contact_key=Lower("registered_model__escalation_contact"),
                owners_gone=ExpressionWrapper(owners_gone, output_field=BooleanField()),
            )
            .annotate(
                bounce_id=Subquery(bounce.values("id")[:1], output_field=IntegerField()),
                bounced_address=Subquery(bounce.values("address")[:1]),
            )
        )
        return annotated.annotate(episode_key=_unowned_episode()).exclude(
            _fired(rule, episode=OuterRef("episode_key"))
        )
    if rule == LifecycleRule.VULNERABLE:
        scan = Evidence.objects.filter(
            version_id=OuterRef("pk"), kind=EvidenceKind.DEPENDENCY_SCAN
        ).order_by("-id")
        critical = (
            effective_critical_findings()
            .filter(evidence_id=OuterRef("scan_id"))
            .order_by()
            .values("evidence_id")
            .annotate(n=Count("id"))
            .values("n")[:1]
        )
        scanned_after_approval = Evidence.objects.filter(
            kind=EvidenceKind.DEPENDENCY_SCAN, uploaded_at__gt=F("version__approved_at")
        ).values("version_id")
        return (
            # A semi-join from the (few) scans uploaded after approval, before the per-row
            # newest-scan lookups.
            versions.filter(pk__in=scanned_after_approval)
            .annotate(
                scan_id=Subquery(scan.values("id")[:1], output_field=IntegerField()),
                scan_sha256=Subquery(scan.values("sha256")[:1]),
                scan_uploaded_at=Subquery(scan.values("uploaded_at")[:1]),
            )
            .filter(scan_uploaded_at__gt=F("approved_at"))
            .annotate(
                critical_count=Subquery(critical, output_field=IntegerField()),
                episode_key=Concat(Value("scan:"), Cast("scan_id", CharField())),
            )
            .filter(critical_count__gt=0)
            .exclude(_fired(rule, episode=OuterRef("episode_key")))
        )
    raise ValueError(f"unknown lifecycle rule {rule!r}")


def _unowned_episode() -> Concat:
    """Which unowned episode: both owners gone (named by their ids, so a new pair that
    leaves too fires again) and/or the open bounce (by its id)."""
    return Concat(
        Value("owners:"),
        Cast("registered_model__owner_id", CharField()),
        Value(","),
        Cast("registered_model__backup_owner_id", CharField()),
        Value(":gone="),
        Cast("owners_gone", CharField()),
        Value(":bounce="),
        Coalesce(Cast("bounce_id", CharField()), Value("none")),
        output_field=CharField(),
    )


def verdict_for(
    rule: LifecycleRule, version: ModelVersion, *, now: datetime, policies: Policies
) -> Verdict | None:
    """What ``rule`` does to one row of ``rule_candidates`` under its governing policy,
    or None (the rule is off for that policy, or the row does not break it)."""
    config = policies.config(version.governing_policy_id, rule)
    if config is None:
        return None
    policy = policies.governing(version.governing_policy_id)
    found = _JUDGES[rule](version, config, now)
    if found is None:
        return None
    episode, reason, evidence = found
    return Verdict(
        rule=rule,
        action=config.action,
        version_id=version.pk,
        episode=episode,
        reason=reason,
        evidence=evidence,
        policy_id=policy.pk if policy else None,
        policy_version=policy.version if policy else None,
    )


def _judge_expired(version: ModelVersion, config: RuleConfig, now: datetime):
    expires = version.approval_expires_at
    if expires is None or expires > now:
        return None
    reason = "approval expired; re-certification required"
    return f"expired:{expires.isoformat()}", reason, {"approval_expires_at": expires.isoformat()}


def _judge_stale(version: ModelVersion, config: RuleConfig, now: datetime):
    quiet_since = version.last_activity_at
    if version.served or quiet_since >= now - timedelta(days=config.after_days):
        return None
    reason = (
        f"no deployment serves it and nothing happened for {config.after_days} days "
        f"(last activity {quiet_since:%Y-%m-%d %H:%M %Z})"
    )
    evidence = {"last_activity_at": quiet_since.isoformat(), "after_days": config.after_days}
    return f"quiet-since:{quiet_since.isoformat()}", reason, evidence


def _judge_unowned(version: ModelVersion, config: RuleConfig, now: datetime):
    model = version.registered_model
    why, evidence = [], {}
    if version.owners_gone:
        why.append("the owner and the backup owner are both inactive")
        evidence["owners"] = [model.owner_id, model.backup_owner_id]
    if version.bounce_id is not None:
        why.append(f"mail to the escalation contact {version.bounced_address} bounced")
        evidence["bounce"] = version.bounce_id
    if not why:
        return None
    return version.episode_key, " and ".join(why), evidence


def _judge_vulnerable(version: ModelVersion, config: RuleConfig, now: datetime):
    if not version.critical_count or version.scan_uploaded_at <= version.approved_at:
        return None
    reason = (
        f"{version.critical_count} open critical finding(s) in the dependency scan report "
        f"uploaded {version.scan_uploaded_at:%Y-%m-%d %H:%M %Z}, after approval"
    )
    evidence = {
        "scan_report": version.scan_id,
        "sha256": version.scan_sha256,
        "critical_findings": version.critical_count,
    }
    return version.episode_key, reason, evidence


_JUDGES = {
    LifecycleRule.EXPIRED: _judge_expired,
    LifecycleRule.STALE: _judge_stale,
    LifecycleRule.UNOWNED: _judge_unowned,
    LifecycleRule.VULNERABLE: _judge_vulnerable,
}
