"""Holes an outside acceptance run found in the gate (issue 7, GATE-1): an unrated CVE that
passed, a checksum "vouched for" by unsigned provenance, a symlink that passed unseen."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner

from approvals.evidence.provenance import IN_TOTO_PAYLOAD_TYPE
from approvals.models import CheckResult
from audit.models import AuditEvent
from core.errors import InvalidInput, NotPermitted
from registry import services as registry_services
from registry.models import FindingTriage, VulnerabilityFinding
from tests.approvals.factories import (
    SAMPLES,
    attach,
    attach_passing_evidence,
    board_policy,
    ci_user,
    provenance_statement,
    signed_provenance,
)
from tests.approvals.test_checks_and_overrides import latest, submit
from tests.registry.factories import TeamFactory, approver, manager, ready_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    team = TeamFactory(slug="assistants")
    board_policy(team)
    return team


def version_scanned_by_pip_audit(team, report: str = "pip-audit-vulnerable.json"):
    version = ready_version(registered_model__team=team)
    attach_passing_evidence(version, skip=("dependency_scan",))
    attach(version, "dependency_scan", (SAMPLES / report).read_bytes())
    return version


def pip_audit_ids() -> list[str]:
    report = json.loads((SAMPLES / "pip-audit-vulnerable.json").read_bytes())
    return [v["id"] for dep in report["dependencies"] for v in dep.get("vulns", [])]


# --- findings of unknown severity ---------------------------------------------------------


def test_a_pip_audit_cve_of_unknown_severity_blocks_like_a_critical_one(team):
    # Given a pip-audit report (no severities) with open vulnerabilities
    version = version_scanned_by_pip_audit(team)

    # When the checks run
    request = submit(version)

    # Then the critical dependency check fails, naming the CVE and what would unblock it
    result = latest(request)["dependency_scan"]
    assert (result.passed, result.critical, request.state) == (False, True, "changes_requested")
    assert "unknown severity" in result.detail
    assert "security approver" in result.detail
    assert pip_audit_ids()[0] in result.detail
    assert result.observed["open_unrated"]
    version.refresh_from_db()
    assert version.state == "draft"


def test_the_same_cve_blocks_whether_trivy_rates_it_or_pip_audit_does_not(team):
    trivy = version_scanned_by_pip_audit(team, report="trivy-vulnerable.json")
    pip_audit = version_scanned_by_pip_audit(team)

    assert latest(submit(trivy))["dependency_scan"].passed is False
    assert latest(submit(pip_audit))["dependency_scan"].passed is False


def triage_all(version, actor, **verdict):
    findings = VulnerabilityFinding.objects.filter(evidence__version=version)
    assert findings.exists()
    for finding in findings:
        registry_services.finding_triage(actor=actor, finding=finding, **verdict)


def test_a_security_approvers_rating_unblocks_the_next_submission(team):
    # Given a version blocked by unrated findings
    version = version_scanned_by_pip_audit(team)
    submit(version)
    security = approver(team, "security")

    # When a security approver rates each of them low, with a note
    triage_all(version, security, status="open", severity="low", note="Not reachable: CLI only")

    # Then the next submission passes the dependency check, and each verdict is audited
    request = submit(version)
    assert latest(request)["dependency_scan"].passed is True, latest(request)["dependency_scan"]
    assert request.state == "in_review"
    events = AuditEvent.objects.filter(verb="finding.triaged")
    assert events.count() == VulnerabilityFinding.objects.filter(evidence__version=version).count()
    event = events.first()
    assert event.actor == security
    assert event.data["before"] == {"severity": "unknown", "status": "open"}
    assert event.data["after"] == {"severity": "low", "status": "open", "justification": ""}


def test_a_justified_not_affected_statement_unblocks_like_a_vex(team):
    version = version_scanned_by_pip_audit(team)
    submit(version)

    triage_all(
        version,
        approver(team, "application_security"),
        status="not_affected",
        justification="vulnerable_code_not_in_execute_path",
        note="We never load untrusted checkpoints.",
    )

    assert latest(submit(version))["dependency_scan"].passed is True


def test_rating_a_finding_critical_keeps_it_blocking(team):
    version = version_scanned_by_pip_audit(team)
    submit(version)

    triage_all(version, approver(team, "security"), status="open", severity="critical", note="RCE.")

    result = latest(submit(version))["dependency_scan"]
    assert result.passed is False
    assert result.observed["open_critical"] and not result.observed["open_unrated"]


def test_a_verdict_holds_for_the_same_cve_in_a_re_uploaded_report(team):
    version = version_scanned_by_pip_audit(team)
    submit(version)
    triage_all(version, approver(team, "security"), status="open", severity="low", note="ok")

    # When CI uploads the nightly scan again (a new evidence row, new finding rows)
    attach(version, "dependency_scan", (SAMPLES / "pip-audit-vulnerable.json").read_bytes())

    assert latest(submit(version))["dependency_scan"].passed is True


@pytest.mark.parametrize(
    "who",
    ["product approver", "platform approver", "manager", "ci", "security of another team"],
)
def test_only_the_teams_security_approvers_may_triage(team, who):
    version = version_scanned_by_pip_audit(team)
    submit(version)
    finding = VulnerabilityFinding.objects.filter(evidence__version=version).first()
    actor = {
        "product approver": lambda: approver(team, "product"),
        "platform approver": lambda: approver(team, "platform"),
        "manager": lambda: manager(team),
        "ci": lambda: ci_user(team),
        "security of another team": lambda: approver(TeamFactory(), "security"),
    }[who]()
    events = AuditEvent.objects.count()

    with pytest.raises(NotPermitted):
        registry_services.finding_triage(
            actor=actor, finding=finding, status="open", severity="low", note="let it through"
        )

    assert FindingTriage.objects.count() == 0
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    "verdict, field",
    [
        ({"status": "open", "severity": "unknown", "note": "x"}, "severity"),
        ({"status": "open", "severity": "", "note": "x"}, "severity"),
        ({"status": "fixed", "severity": "", "note": "x"}, "severity"),
        ({"status": "not_affected", "justification": "", "note": "x"}, "justification"),
        ({"status": "not_affected", "justification": "because", "note": "x"}, "justification"),
        ({"status": "open", "severity": "low", "note": "   "}, "note"),
        ({"status": "ignored", "severity": "low", "note": "x"}, "status"),
    ],
)
def test_an_incomplete_triage_is_refused_and_records_nothing(team, verdict, field):
    version = version_scanned_by_pip_audit(team)
    submit(version)
    finding = VulnerabilityFinding.objects.filter(evidence__version=version).first()
    events = AuditEvent.objects.count()

    with pytest.raises(InvalidInput) as refused:
        registry_services.finding_triage(
            actor=approver(team, "security"), finding=finding, **verdict
        )

    assert field in refused.value.errors
    assert FindingTriage.objects.count() == 0
    assert AuditEvent.objects.count() == events


def test_a_security_approver_triages_from_the_findings_admin_page(team, client):
    version = version_scanned_by_pip_audit(team)
    submit(version)
    finding = VulnerabilityFinding.objects.filter(evidence__version=version).first()
    security = approver(team, "security", is_staff=True)
    client.force_login(security)

    page = client.get(f"/admin/registry/vulnerabilityfinding/{finding.pk}/change/")
    assert page.status_code == 200
    assert b"/triage/" in page.content
    response = client.post(
        f"/admin/registry/vulnerabilityfinding/{finding.pk}/triage/",
        {"status": "not_affected", "justification": "component_not_present", "note": "Vendored."},
    )

    assert response.status_code == 302
    triage = FindingTriage.objects.get()
    assert (triage.finding, triage.status, triage.triaged_by) == (finding, "not_affected", security)


def test_a_product_approver_sees_no_triage_button_and_cannot_post_one(team, client):
    version = version_scanned_by_pip_audit(team)
    submit(version)
    finding = VulnerabilityFinding.objects.filter(evidence__version=version).first()
    client.force_login(approver(team, "product", is_staff=True))

    page = client.get(f"/admin/registry/vulnerabilityfinding/{finding.pk}/change/")
    response = client.post(
        f"/admin/registry/vulnerabilityfinding/{finding.pk}/triage/",
        {"status": "open", "severity": "low", "note": "fine"},
    )

    assert page.status_code == 200 and b"/triage/" not in page.content
    assert response.status_code == 403  # the refusal page, not a form (issue 11)
    assert b"security approvers" in response.content
    assert FindingTriage.objects.count() == 0


# --- the artifact checksum of an artifact the server cannot read --------------------------


def remote_version_with_provenance(team, provenance):
    version = ready_version(registered_model__team=team)
    attach_passing_evidence(version, skip=("provenance",))
    if provenance is not None:
        attach(version, "provenance", provenance(version))
    return version


def _signed_by_stranger(version) -> dict:
    envelope = Envelope(
        payload=json.dumps(provenance_statement(version.checksum)).encode(),
        payload_type=IN_TOTO_PAYLOAD_TYPE,
        signatures={},
    )
    envelope.sign(CryptoSigner.generate_ed25519())
    return envelope.to_dict()


@pytest.mark.parametrize(
    "provenance, found",
    [
        (lambda v: provenance_statement(v.checksum), "unsigned"),
        (_signed_by_stranger, "not by a trusted key"),
        (lambda v: signed_provenance("c" * 64), "does not name this checksum"),
        (None, "no provenance"),
    ],
    ids=["unsigned", "untrusted signer", "signed for other bytes", "none"],
)
def test_an_unreadable_artifacts_checksum_fails_without_a_trusted_signature(
    team, provenance, found
):
    # Given an s3:// artifact the server cannot read, and provenance that is not a
    # trusted signature over its checksum
    version = remote_version_with_provenance(team, provenance)

    # When the checks run
    request = submit(version)

    # Then the critical checksum check fails, saying what was found and what would pass
    result = latest(request)["artifact_checksum"]
    assert (result.passed, result.critical, request.state) == (False, True, "changes_requested")
    assert found in result.detail
    assert "signed by a trusted key" in result.detail
    assert version.checksum in result.detail


def test_provenance_signed_by_a_trusted_key_vouches_for_an_unreadable_artifact(team):
    version = remote_version_with_provenance(team, lambda v: signed_provenance(v.checksum))

    result = latest(submit(version))["artifact_checksum"]

    assert result.passed is True
    assert result.observed == {"local": False, "vouched_by": "ci-test-signing-key"}


def test_a_deactivated_trusted_key_no_longer_vouches(team):
    version = remote_version_with_provenance(team, lambda v: signed_provenance(v.checksum))
    from approvals.models import TrustedSigningKey

    TrustedSigningKey.objects.update(is_active=False)

    assert latest(submit(version))["artifact_checksum"].passed is False


# --- file:// artifacts that cannot be read fail, never pass -------------------------------


@pytest.fixture
def artifact_root(tmp_path, settings):
    root = tmp_path / "artifacts"
    root.mkdir()
    settings.GOVBOARD_ARTIFACT_ROOTS = [str(root)]
    return root


def test_a_symlink_inside_a_root_pointing_outside_fails_the_checksum_check(
    team, artifact_root, tmp_path
):
    # Given an artifact root holding a link to a file outside it
    outside = tmp_path / "outside.safetensors"
    data = (SAMPLES / "artifacts" / "tiny.safetensors").read_bytes()
    outside.write_bytes(data)
    os.symlink(outside, artifact_root / "model.safetensors")
    version = ready_version(
        registered_model__team=team,
        checksum=hashlib.sha256(data).hexdigest(),
        storage_uri=f"file://{artifact_root / 'model.safetensors'}",
    )
    attach_passing_evidence(version)

    # When the checks run
    request = submit(version)

    # Then the checksum check fails on the link (it used to pass as "not readable here")
    result = latest(request)["artifact_checksum"]
    assert (result.passed, request.state) == (False, "changes_requested")
    assert "symlink" in result.detail


def test_a_missing_file_artifact_fails_the_checksum_check(team, artifact_root):
    version = ready_version(
        registered_model__team=team, storage_uri=f"file://{artifact_root / 'gone.safetensors'}"
    )
    attach_passing_evidence(version)

    result = latest(submit(version))["artifact_checksum"]

    assert result.passed is False
    assert "does not exist" in result.detail
    assert CheckResult.objects.filter(check_name="artifact_checksum", passed=True).count() == 0
