"""A known review-page scenario, shared by the admin tests and the real-browser test.

Model ``support-drafter`` of team ``assistants``: version 1.0.0 went through the whole
flow (checks, three sign-offs, a signed decision record) and is approved; version 1.1.0 is
in review with a different licence, a quality of 0.7799999999999999 against a minimum of
0.85 (the non-critical eval threshold fails), a dependency scan with a high CVE that has a
fix and a low one that has none, and a platform sign-off so far.
"""

from __future__ import annotations

from dataclasses import dataclass

from approvals import services
from approvals.models import PromotionRequest
from registry.models import Dataset, DatasetVersion, ModelVersion, VersionDataset
from tests.approvals.factories import (
    attach,
    attach_passing_evidence,
    board_policy,
    ci_user,
    eval_package,
    run_checks,
)
from tests.registry.factories import (
    PASSWORD,
    RegisteredModelFactory,
    TeamFactory,
    approver,
    ready_version,
)

QUALITY = 0.7799999999999999  # what float arithmetic makes of 0.78: shown as 0.78
NOISY_QUALITY_TEXT = "0.7799999999999999"
HIGH_CVE = "CVE-2024-35195"
LOW_CVE = "CVE-2023-99999"
BOARD = ("platform", "product", "security")


def dependency_report() -> dict:
    """A Trivy report: requests has a high CVE fixed in 2.32.0, libfoo a low one unfixed."""
    return {
        "SchemaVersion": 2,
        "ArtifactName": "support-drafter",
        "Results": [
            {
                "Target": "Python",
                "Class": "lang-pkgs",
                "Type": "python-pkg",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": LOW_CVE,
                        "PkgName": "libfoo",
                        "InstalledVersion": "1.0",
                        "Severity": "LOW",
                        "Status": "affected",
                    },
                    {
                        "VulnerabilityID": HIGH_CVE,
                        "PkgName": "requests",
                        "InstalledVersion": "2.31.0",
                        "FixedVersion": "2.32.0",
                        "Severity": "HIGH",
                        "Status": "fixed",
                    },
                ],
            }
        ],
    }


@dataclass
class ReviewScenario:
    team: object
    approved: PromotionRequest
    in_review: PromotionRequest
    platform_signer: object
    reviewer: object  # a security approver who has not signed


def _licensed_dataset(version: ModelVersion) -> None:
    dataset, _ = Dataset.objects.get_or_create(team=version.registered_model.team, name="tickets")
    dataset_version, _ = DatasetVersion.objects.get_or_create(
        dataset=dataset,
        version="2026-05",
        defaults={
            "license": "CC-BY-4.0",
            "window_start": "2026-01-01T00:00:00Z",
            "window_end": "2026-05-31T00:00:00Z",
        },
    )
    VersionDataset.objects.create(
        model_version=version, dataset_version=dataset_version, use="train"
    )


def _submit(version: ModelVersion, rollback_target: ModelVersion | None = None) -> PromotionRequest:
    request = services.promotion_request_submit(
        actor=ci_user(version.registered_model.team),
        version=version,
        rollback_target=rollback_target,
        rollback_plan="Route traffic back to the previous version." if rollback_target else "",
    )
    return run_checks(request) if request.state == "submitted" else request


def review_scenario() -> ReviewScenario:
    team = TeamFactory(slug="assistants")
    policy = board_policy(team)
    policy.metric_thresholds = {"quality": {"min": 0.85}}
    policy.save()
    model = RegisteredModelFactory(team=team, name="support-drafter")
    signers = {role: approver(team, role, username=f"{role}-approver") for role in BOARD}

    # 1.0.0: passing evidence, signed by the whole board, approved.
    first = ready_version(registered_model=model, version="1.0.0")
    _licensed_dataset(first)
    attach_passing_evidence(first)
    approved = _submit(first)
    assert approved.state == "in_review", approved.reasons
    for role, signer in signers.items():
        services.signoff_record(actor=signer, request=approved, role=role, password=PASSWORD)
    approved.refresh_from_db()
    assert approved.state == "approved"

    # 1.1.0: another licence, quality under the bar, two non-blocking CVEs, one sign-off.
    second = ready_version(registered_model=model, version="1.1.0", license="mit")
    _licensed_dataset(second)
    attach_passing_evidence(second, skip=("eval_package", "dependency_scan"))
    attach(second, "eval_package", eval_package(second, metrics={"quality": QUALITY}))
    attach(second, "dependency_scan", dependency_report())
    in_review = _submit(second, rollback_target=first)
    assert in_review.state == "in_review", in_review.reasons
    services.signoff_record(
        actor=signers["platform"], request=in_review, role="platform", password=PASSWORD
    )
    reviewer = approver(team, "security", username="second-security-approver")
    return ReviewScenario(
        team=team,
        approved=approved,
        in_review=in_review,
        platform_signer=signers["platform"],
        reviewer=reviewer,
    )
