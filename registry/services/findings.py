"""Triage of vulnerability findings: a security approver rates an unrated finding, or
states (VEX style, with a justification) that it does not affect the version."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import record
from audit.verbs import AuditVerb
from core.errors import InvalidInput
from core.permissions import Verb, require
from registry.choices import FindingStatus, Severity, VexJustification
from registry.models import FindingTriage, VulnerabilityFinding
from registry.selectors import effective_triages  # a read; the check inputs use it too
from registry.services.versions import lock_version


@transaction.atomic
def finding_triage(
    *,
    actor: Any,
    finding: VulnerabilityFinding | int,
    status: str,
    note: str,
    severity: str = "",
    justification: str = "",
) -> FindingTriage:
    """Record a security approver's verdict on a finding, for the version it was found in.

    ``status`` open or fixed needs a real ``severity`` (not unknown); not_affected needs a
    VEX ``justification``; every verdict needs a ``note``. The verdict holds for the same
    vulnerability in the same package in later scan reports of this version, and the next
    check run honours it (a request already sent back is submitted again by CI).
    """
    pk = finding.pk if isinstance(finding, VulnerabilityFinding) else finding
    try:
        target = VulnerabilityFinding.objects.select_related("evidence").get(pk=pk)
    except VulnerabilityFinding.DoesNotExist as exc:
        raise InvalidInput("No such finding.") from exc
    version = lock_version(target.evidence.version_id)
    team = version.registered_model.team
    require(actor, Verb.TRIAGE, team)
    errors = _verdict_errors(status=status, severity=severity, justification=justification)
    if not note.strip():
        errors["note"] = ["Say why (the advisory read, the reasoning, the evidence)."]
    if errors:
        raise InvalidInput("The triage is incomplete.", errors=errors)
    previous = effective_triages(version.pk).get((target.vulnerability_id, target.package))
    triage = FindingTriage(
        version=version,
        finding=target,
        vulnerability_id=target.vulnerability_id,
        package=target.package,
        severity=severity if status != FindingStatus.NOT_AFFECTED else "",
        status=status,
        justification=justification if status == FindingStatus.NOT_AFFECTED else "",
        note=note.strip(),
        triaged_by=actor,
    )
    try:
        triage.full_clean(exclude=["version", "finding", "triaged_by"])
    except ValidationError as exc:
        raise InvalidInput("The triage is invalid.", errors=exc.message_dict) from exc
    triage.save()
    record(
        actor=actor,
        verb=AuditVerb.FINDING_TRIAGED,
        target=triage,
        team_id=team.pk,
        data={
            "version": version.pk,
            "finding": target.pk,
            "vulnerability_id": target.vulnerability_id,
            "package": target.package,
            "before": _verdict(previous) or {"severity": target.severity, "status": target.status},
            "after": _verdict(triage),
            "note": triage.note,
        },
    )
    return triage


def _verdict_errors(*, status: str, severity: str, justification: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if status not in FindingStatus.values:
        errors["status"] = [f"Use one of {', '.join(FindingStatus.values)}."]
    elif status == FindingStatus.NOT_AFFECTED:
        if justification not in VexJustification.values:
            errors["justification"] = [
                "Not affected needs a VEX justification: " + ", ".join(VexJustification.values)
            ]
    elif severity not in Severity.values or severity == Severity.UNKNOWN:
        errors["severity"] = ["Record the severity it has: critical, high, medium or low."]
    return errors


def _verdict(triage: FindingTriage | None) -> dict[str, str] | None:
    if triage is None:
        return None
    return {
        "severity": triage.severity,
        "status": triage.status,
        "justification": triage.justification,
    }
