"""What the review page of a promotion request shows: everything a board member decides
on, read in a fixed number of queries whatever the number of requests, checks, findings,
datasets or sign-offs.

Built on ``selectors.request_detail`` (the request, its latest checks, exceptions,
sign-offs, runbook steps and what approval waits for, as the API shows them), plus the
version's vulnerability findings, its model card (``registry.model_card``), what changed
since the previous approved version (``approvals.version_changes``) and the verified
decision record; a ring request of a release adds the ring panel
(``approvals.review_ring_panel``). Values are shaped for reading here, so the template only
lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from approvals.assessment import role_label
from approvals.checks import is_critical
from approvals.choices import CheckName, RequestState
from approvals.decision_verification import verify_decision_envelope
from approvals.review_ring_panel import RingPanel, ring_panel
from approvals.selectors import RequestDetail, request_detail
from approvals.version_changes import (
    previous_approved_version,
    side_by_side,
    version_aspects,
    version_differences,
)
from core.numbers import format_number
from core.signing_key import is_development_key, signing_key_id
from registry.choices import FindingStatus, Severity
from registry.model_card import ModelCard, model_card
from registry.selectors import current_findings, effective_triages

FAILED, EXCEPTED, NOT_APPLICABLE, PASSED = "failed", "exception granted", "not applicable", "passed"
#: Failures first, then what an exception covers, then what did not apply, then passes.
_STATUS_ORDER = {FAILED: 0, EXCEPTED: 1, NOT_APPLICABLE: 2, PASSED: 3}
_SEVERITY_ORDER = {value: index for index, value in enumerate(Severity.values)}


@dataclass(frozen=True)
class ThresholdRow:
    metric: str
    segment: str  # "overall" for the package's own metrics
    value: str
    comparison: str
    limit: str
    passed: bool


@dataclass(frozen=True)
class CheckRow:
    name: str
    label: str
    status: str  # FAILED, EXCEPTED, NOT_APPLICABLE or PASSED: said in words on the page
    critical: bool
    detail: str
    thresholds: list[ThresholdRow] = field(default_factory=list)


@dataclass(frozen=True)
class FindingRow:
    vulnerability_id: str
    package: str
    installed_version: str
    severity: str
    fixed_version: str
    status: str
    triaged: bool


@dataclass(frozen=True)
class ChangeRow:
    aspect: str
    item: str
    before: str
    after: str
    changed: bool = True


@dataclass(frozen=True)
class VersionChanges:
    previous: Any  # the previous approved ModelVersion, or None (then nothing to compare)
    changes: list[ChangeRow]
    metrics: list[ChangeRow]


@dataclass(frozen=True)
class DecisionSummary:
    keyid: str
    statement_sha256: str
    created_at: datetime
    verified: bool
    problems: list[str]
    #: "development key" (proves nothing), "server key" or "another key".
    key_status: str
    development_key: bool
    decision: str


@dataclass
class ReviewPage:
    detail: RequestDetail
    card: ModelCard
    checks: list[CheckRow]
    findings: list[FindingRow]
    exceptions: list[dict[str, Any]]
    signoffs: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    waiting_roles: list[str]
    changes: VersionChanges
    decision: DecisionSummary | None
    now: datetime
    #: The release, its rings and the target ring's criteria (None for a version request).
    ring: RingPanel | None = None

    @property
    def request(self) -> Any:
        return self.detail.request

    @property
    def failed_checks(self) -> int:
        return sum(1 for check in self.checks if check.status == FAILED)


def review_page(user: Any, request_id: int, *, now: datetime | None = None) -> ReviewPage:
    """The review page's data for ``request_id`` (``PromotionRequest.DoesNotExist`` when
    the user may not see it: a missing and a forbidden request look the same).

    Queries: ``request_detail``'s six, findings and triage verdicts (2), the model card
    (2), the previous approved version (1) and the comparison (5): sixteen, fixed. A ring
    request of a release adds the ring panel's five (the release and its facts).
    """
    now = now or timezone.now()
    detail = request_detail(user, request_id, now=now)
    request = detail.request
    version = request.version
    live = {e.check_result_id for e in detail.exceptions if e.expires_at > now}
    return ReviewPage(
        detail=detail,
        card=model_card(version),
        checks=_check_rows(detail, live),
        findings=_finding_rows(version.pk),
        exceptions=[
            {"exception": e, "live": e.expires_at > now}
            for e in sorted(detail.exceptions, key=lambda e: e.granted_at, reverse=True)
        ],
        signoffs=[
            {**row, "role_label": role_label(row["signoff"].role)} for row in detail.signoffs
        ],
        steps=[{**step, "owner_label": _owner_label(step["owner_role"])} for step in detail.steps],
        waiting_roles=(
            [
                f"{role_label(role)} \u00d7{count}"
                for role, count in sorted(detail.missing_roles.items())
            ]
            if request.state == RequestState.IN_REVIEW
            else []
        ),
        changes=_changes(version),
        decision=decision_summary(detail),
        now=now,
        ring=ring_panel(request, now=now),
    )


def _owner_label(role: str) -> str:
    # "system" steps (webhooks) are the server's own; the others belong to a board role.
    return "System" if role == "system" else role_label(role)


def _check_rows(detail: RequestDetail, live_exceptions: set[int]) -> list[CheckRow]:
    snapshot = detail.request.policy_snapshot
    labels = dict(CheckName.choices)
    rows = []
    for result in detail.checks:
        observed = result.observed or {}
        if not result.passed:
            status = EXCEPTED if result.pk in live_exceptions else FAILED
        elif observed.get("applicable") is False:
            status = NOT_APPLICABLE
        else:
            status = PASSED
        thresholds = [
            ThresholdRow(
                metric=str(row.get("metric")),
                segment=row.get("segment") or "overall",
                value=format_number(row.get("observed")) or "not reported",
                comparison=str(row.get("comparison") or ""),
                limit=format_number(row.get("limit")),
                passed=bool(row.get("passed")),
            )
            for row in observed.get("results", [])
            if result.check_name == CheckName.EVAL_THRESHOLDS and isinstance(row, dict)
        ]
        thresholds.sort(key=lambda row: row.passed)  # missed bounds first, stable otherwise
        rows.append(
            CheckRow(
                name=result.check_name,
                label=labels.get(result.check_name, result.check_name),
                status=status,
                critical=result.critical or is_critical(result.check_name, snapshot),
                detail=result.detail,
                thresholds=thresholds,
            )
        )
    rows.sort(key=lambda row: (_STATUS_ORDER[row.status], not row.critical))
    return rows


def _finding_rows(version_id: int) -> list[FindingRow]:
    verdicts = effective_triages(version_id)
    rows = []
    for finding in current_findings(version_id):
        verdict = verdicts.get((finding.vulnerability_id, finding.package))
        rows.append(
            FindingRow(
                vulnerability_id=finding.vulnerability_id,
                package=finding.package,
                installed_version=finding.installed_version,
                severity=(verdict.severity if verdict and verdict.severity else finding.severity),
                fixed_version=finding.fixed_version,
                status=verdict.status if verdict else finding.status,
                triaged=verdict is not None,
            )
        )
    # Open ones first, the most severe first: what a security approver must look at.
    rows.sort(
        key=lambda row: (row.status != FindingStatus.OPEN, _SEVERITY_ORDER.get(row.severity, 99))
    )
    return rows


def shown(value: Any) -> str:
    """A compared value as text: lists joined, numbers without float noise, nothing as —."""
    if value is None or value == "" or value == []:
        return "\u2014"
    if isinstance(value, list):
        return ", ".join(shown(item) for item in value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_number(value)
    return str(value)


def _changes(version: Any) -> VersionChanges:
    previous = previous_approved_version(version)
    if previous is None:
        return VersionChanges(previous=None, changes=[], metrics=[])
    aspects = version_aspects([previous.pk, version.pk])
    changes = [
        ChangeRow(change.aspect, change.item, shown(change.before), shown(change.after))
        for change in version_differences(aspects, previous.pk, version.pk)
        if change.aspect != "eval metrics"  # shown side by side below, changed or not
    ]
    metrics = [
        ChangeRow("eval metrics", item, shown(before), shown(after), changed=before != after)
        for item, before, after in side_by_side(aspects, "eval metrics", previous.pk, version.pk)
    ]
    return VersionChanges(previous=previous, changes=changes, metrics=metrics)


def decision_summary(detail: RequestDetail) -> DecisionSummary | None:
    """The decision record as the page shows it: verified with the server's public key
    (``decision_verification``), its key named and a development key flagged."""
    record = detail.decision
    if record is None:
        return None
    verified, problems, statement = verify_decision_envelope(
        record.envelope, request=detail.request
    )
    server_key = record.keyid == signing_key_id()
    development = server_key and is_development_key()
    if development:
        key_status = "development key: proves nothing outside a test install"
    elif server_key:
        key_status = "the server's signing key"
    else:
        key_status = "not the server's current key"
    return DecisionSummary(
        keyid=record.keyid,
        statement_sha256=record.statement_sha256,
        created_at=record.created_at,
        verified=verified,
        problems=problems,
        key_status=key_status,
        development_key=development,
        decision=str(((statement or {}).get("predicate") or {}).get("decision") or ""),
    )


__all__ = [
    "EXCEPTED",
    "FAILED",
    "NOT_APPLICABLE",
    "PASSED",
    "CheckRow",
    "DecisionSummary",
    "FindingRow",
    "ReviewPage",
    "RingPanel",
    "ThresholdRow",
    "VersionChanges",
    "decision_summary",
    "review_page",
    "shown",
]
