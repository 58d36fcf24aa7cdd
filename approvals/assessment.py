"""The approval gate and what it reads: pure reads, imported by selectors and services
alike. ``assess`` says what stands between a request and approval; nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, IntegerField, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from approvals import checks as check_registry
from approvals import signing
from approvals.choices import ApproverRole, RequestState
from approvals.models import CheckException, CheckResult, PromotionRequest, SignOff
from registry.models import Evidence, ModelVersion


def artifact_name(version: ModelVersion) -> str:
    model = version.registered_model
    return f"{model.team.slug}/{model.name}@{version.version}"


def current_evidence(version: ModelVersion | int) -> dict[str, Evidence]:
    """The newest evidence row of each kind, in one query."""
    version_id = version.pk if isinstance(version, ModelVersion) else version
    newest_ids = (
        Evidence.objects.filter(version_id=version_id)
        .values("kind")
        .annotate(newest=Max("id"))
        .values("newest")
    )
    return {e.kind: e for e in Evidence.objects.filter(id__in=newest_ids)}


def evidence_digests(evidence: dict[str, Evidence], version: ModelVersion) -> dict[str, str]:
    """What a check run or a sign-off is bound to: the artifact checksum and the sha256 of
    the newest evidence document of each kind."""
    digests = {f"evidence:{kind}": e.sha256 for kind, e in sorted(evidence.items())}
    digests["artifact"] = version.checksum
    return digests


def current_digests(version: ModelVersion) -> dict[str, str]:
    return evidence_digests(current_evidence(version), version)


def signoff_problems(
    signoff: SignOff, *, request: PromotionRequest, digests: dict[str, str]
) -> list[str]:
    """Why a sign-off does not (or no longer does) count; empty when it is valid.

    The server signature must verify over the stored binding, and the binding must name
    this request, this version, this checksum, this role and signer, and exactly the
    evidence digests that are current now.
    """
    binding = signoff.binding or {}
    problems = []
    payload = signing.canonical_json(binding)
    if not binding or signing.sha256_hex(payload) != signoff.binding_sha256:
        problems.append("the binding digest does not match")
    elif not signing.verify_bytes(payload, signoff.signature):
        problems.append("the server signature does not verify")
    if binding.get("request") != request.pk or signoff.request_id != request.pk:
        problems.append("signed for another request")
    if binding.get("version") != request.version_id:
        problems.append("signed for another version")
    if binding.get("sha256") != request.version.checksum:
        problems.append("the artifact checksum changed since signing")
    if binding.get("role") != signoff.role or binding.get("signer_id") != signoff.signer_id:
        problems.append("role or signer differ from what was signed")
    if binding.get("evidence") != digests:
        problems.append("evidence changed since signing")
    return problems


def counting_signoffs(**filters: Any) -> QuerySet[SignOff]:
    """``signoff_problems`` for many requests at once (a subquery on the outer request):
    the sign-offs bound to this request, its version's checksum and the evidence its latest
    check run saw. Their role and signer columns are written with the binding, and the
    append-only tables keep the server signature honest, so the signature is left to
    ``assess``. While evidence changed since the run, signing is refused until a re-run,
    which starts a new binding."""
    return SignOff.objects.filter(
        request=OuterRef("pk"),
        signed_checksum=OuterRef("version__checksum"),
        evidence_digests=OuterRef("checked_evidence"),
        **filters,
    )


def role_missing_q(role: str) -> Q:
    """The set form of ``Assessment.missing_roles`` for one role: the outer request's
    policy requires ``role`` and fewer sign-offs of it count than its quorum.

    A policy that does not require ``role`` has no quorum for it: NULL, and NULL > n is
    not true, so the comparison alone says "required and missing". No ``has_key`` test
    beside it: PostgreSQL has no statistics for ``policy_snapshot -> 'required_roles' ?
    role`` and guesses it keeps 1 % of the rows, so it expected ten requests in the queue
    and sorted all 4,000 in review instead of walking ``promotion_request_queue_order``
    and stopping after a page (issue 14: 82 -> 8 ms in EXPLAIN ANALYZE at 100,000
    versions, 4,000 requests in review)."""
    counted = (
        counting_signoffs(role=role)
        .order_by()
        .values("request")
        .annotate(n=Count("id"))
        .values("n")
    )
    quorum = Cast(KT(f"policy_snapshot__required_roles__{role}"), IntegerField())
    counted_or_none = Coalesce(Subquery(counted, output_field=IntegerField()), 0)
    return Q(GreaterThan(quorum, counted_or_none))


@dataclass
class Assessment:
    """Where a request stands: the latest check run, live exceptions, valid sign-offs,
    and what still stands between it and approval (``blocked``, ``waiting_for``)."""

    results: list[CheckResult]
    exceptions: list[CheckException]
    signoffs: list[tuple[SignOff, list[str]]]
    digests: dict[str, str]
    state: str = RequestState.IN_REVIEW
    blocked: list[str] = field(default_factory=list)
    missing_roles: dict[str, int] = field(default_factory=dict)
    # Failed checks of the latest run: critical ones, and non-critical ones no live
    # exception covers (a manager may grant one).
    failed_critical: list[str] = field(default_factory=list)
    failed_overridable: list[str] = field(default_factory=list)
    evidence_changed: bool = False
    checks_ran: bool = True

    @property
    def valid_signoffs(self) -> list[SignOff]:
        return [s for s, problems in self.signoffs if not problems]

    @property
    def ready(self) -> bool:
        return not self.blocked and not self.missing_roles

    @property
    def waiting_for(self) -> list[str]:
        """What approval still waits for, in words a board member acts on (empty once
        approved or when nothing is left)."""
        if self.state == RequestState.APPROVED:
            return []
        sent_back = self.state == RequestState.CHANGES_REQUESTED
        if sent_back and (self.failed_critical or not self.failed_overridable):
            # Only a new submission helps: a critical failure, or a reviewer's request.
            return ["a new submission from CI (the request was sent back)"] + [
                f"critical check {name} to pass" for name in self.failed_critical
            ]
        waiting: list[str] = []
        if not self.checks_ran:
            waiting.append("the automated checks to run")
        if self.evidence_changed:
            waiting.append("a recheck: the artifact or evidence changed since the checks ran")
        for name in self.failed_critical:
            waiting.append(
                f"critical check {name} to pass (no exception is possible: fix the version "
                "or its evidence and submit again)"
            )
        for name in self.failed_overridable:
            if sent_back:
                waiting.append(
                    f"an exception on {name} (a governance manager; it returns the request "
                    "to review) or a new submission"
                )
            else:
                waiting.append(
                    f"an exception on {name} (a governance manager) or a passing recheck"
                )
        times = "\u00d7"  # the multiplication sign people read: "Security approver x1"
        waiting.extend(
            f"{role_label(role)} {times}{count}"
            for role, count in sorted(self.missing_roles.items())
        )
        return waiting


def role_label(role: str) -> str:
    """A board role as people read it ("Security approver"), the role itself if unknown."""
    try:
        return str(ApproverRole(role).label)
    except ValueError:
        return role


def latest_run_results(results: list[CheckResult]) -> list[CheckResult]:
    if not results:
        return []
    run = max(r.run for r in results)
    return [r for r in results if r.run == run]


def assess(
    request: PromotionRequest,
    *,
    results: list[CheckResult] | None = None,
    exceptions: list[CheckException] | None = None,
    signoffs: list[SignOff] | None = None,
    digests: dict[str, str] | None = None,
    now: Any = None,
) -> Assessment:
    """Decide what blocks ``request`` (pure given its inputs; loads what is not passed)."""
    now = now or timezone.now()
    if results is None:
        results = list(CheckResult.objects.filter(request=request))
    if exceptions is None:
        exceptions = list(CheckException.objects.filter(request=request))
    if signoffs is None:
        signoffs = list(SignOff.objects.filter(request=request).select_related("signer"))
    if digests is None:
        # An approved request is judged by what it was approved on (its last check run's
        # digests, which its sign-offs are bound to). Evidence an approved version takes
        # afterwards (monitoring scans, re-certification, issue 12) is for the lifecycle
        # rules and the next request, not a reason to void signatures already acted on.
        if request.state == RequestState.APPROVED and request.checked_evidence:
            digests = request.checked_evidence
        else:
            digests = current_digests(request.version)
    snapshot = request.policy_snapshot
    latest = latest_run_results(results)
    live_exceptions = {e.check_result_id: e for e in exceptions if e.expires_at > now}
    blocked: list[str] = []
    failed_critical: list[str] = []
    failed_overridable: list[str] = []
    if not latest:
        blocked.append("the automated checks have not run")
    evidence_changed = bool(latest) and request.checked_evidence != digests
    if evidence_changed:
        blocked.append("the artifact or evidence changed since the checks ran: re-run the checks")
    for result in latest:
        if result.passed:
            continue
        # Critical is decided by code and the snapshot too, not only the stored flag, so a
        # row written with critical=False cannot launder an always-critical failure.
        critical = result.critical or check_registry.is_critical(result.check_name, snapshot)
        if critical:
            failed_critical.append(result.check_name)
            blocked.append(f"critical check {result.check_name} failed: {result.detail}")
        elif result.pk not in live_exceptions:
            failed_overridable.append(result.check_name)
            blocked.append(
                f"check {result.check_name} failed (a manager may grant an exception): "
                f"{result.detail}"
            )
    judged = [(s, signoff_problems(s, request=request, digests=digests)) for s in signoffs]
    valid_roles = [s.role for s, problems in judged if not problems]
    missing = {
        role: quorum - valid_roles.count(role)
        for role, quorum in snapshot["required_roles"].items()
        if valid_roles.count(role) < quorum
    }
    if request.state != RequestState.IN_REVIEW:
        blocked.insert(0, f"the request is {request.state}")
    return Assessment(
        results=latest,
        exceptions=[e for e in exceptions if e.expires_at > now],
        signoffs=judged,
        digests=digests,
        state=request.state,
        blocked=blocked,
        missing_roles=missing,
        failed_critical=failed_critical,
        failed_overridable=failed_overridable,
        evidence_changed=evidence_changed,
        checks_ran=bool(latest),
    )
