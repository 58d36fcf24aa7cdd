"""Dependency-scan reports from pip-audit, Trivy, Grype and CycloneDX, normalised (IN-2)."""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from approvals.evidence import EvidenceError
from approvals.evidence.vulnerabilities import (
    DependencyReport,
    ParsedFinding,
    blocking_findings,
    detect_format,
    has_open_critical,
    parse_dependency_report,
    with_verdicts,
)
from registry.choices import FindingStatus, Severity

SAMPLES = Path(__file__).parent / "samples"
HOSTILE_SECONDS = 2.0


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def report_of(document: object) -> DependencyReport:
    return parse_dependency_report(json.dumps(document).encode())


def finding(**overrides: str) -> ParsedFinding:
    fields = {
        "vulnerability_id": "CVE-2024-0001",
        "package": "pkg",
        "installed_version": "1.0",
        "severity": "critical",
        "fixed_version": "",
        "status": "open",
        "source_format": "trivy",
    }
    return ParsedFinding(**{**fields, **overrides})


def trivy_with(**vulnerability: object) -> dict[str, object]:
    base = {"VulnerabilityID": "CVE-2024-0001", "PkgName": "pkg", "InstalledVersion": "1.0"}
    return {
        "SchemaVersion": 2,
        "ArtifactName": "image",
        "Results": [{"Target": "Python", "Vulnerabilities": [{**base, **vulnerability}]}],
    }


def grype_with(severity: str) -> dict[str, object]:
    return {
        "matches": [
            {
                "vulnerability": {"id": "CVE-2024-0001", "severity": severity},
                "artifact": {"name": "pkg", "version": "1.0"},
            }
        ]
    }


def cyclonedx_with(**vulnerability: object) -> dict[str, object]:
    base = {"id": "CVE-2024-0001", "affects": [{"ref": "pkg:pypi/pkg@1.0"}]}
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "vulnerabilities": [{**base, **vulnerability}],
    }


HOSTILE_INPUTS = {
    "nesting depth 100000": b"[" * 100_000 + b"]" * 100_000,
    "unclosed nesting depth 100000": b'{"matches":' * 100_000,
    "1e400": b'{"matches": [], "n": 1e400}',
    "NaN": b'{"matches": [], "n": NaN}',
    "Infinity": b'{"matches": [], "n": Infinity}',
    "duplicate keys": b'{"matches": [], "matches": [{"vulnerability": {}}]}',
    "invalid UTF-8": b'{"matches": [], "x": "\xc3\x28"}',
    "gzip bytes": gzip.compress(b'{"matches": []}'),
    "gzip bomb": gzip.compress(b"[" * 10_000_000),
    "oversized": b" " * (20 * 1024 * 1024 + 1),
    "empty": b"",
}


class TestPipAudit:
    def test_the_current_pip_audit_format_is_read_with_every_finding_unrated(self):
        report = parse_dependency_report(sample("pip-audit-vulnerable.json"))

        assert report == DependencyReport(
            format="pip-audit",
            findings=[
                ParsedFinding(
                    "GHSA-h5c8-rqwp-cp95",
                    "jinja2",
                    "3.1.2",
                    "unknown",
                    "3.1.3",
                    "open",
                    "pip-audit",
                ),
                ParsedFinding(
                    "PYSEC-2021-142", "pyyaml", "5.3.1", "unknown", "5.4", "open", "pip-audit"
                ),
                ParsedFinding(
                    "GHSA-9wx4-h78v-vm56",
                    "requests",
                    "2.31.0",
                    "unknown",
                    "2.32.0",
                    "open",
                    "pip-audit",
                ),
            ],
            notes=[
                "pip-audit skipped torch: Dependency not found on PyPI and could not be "
                "audited: torch (2.5.1+cpu)"
            ],
        )

    def test_the_older_bare_list_format_is_read_too(self):
        report = parse_dependency_report(sample("pip-audit-legacy-list.json"))

        assert report.format == "pip-audit"
        assert [(f.vulnerability_id, f.package, f.fixed_version) for f in report.findings] == [
            ("PYSEC-2021-142", "pyyaml", "5.4"),
            ("GHSA-9wx4-h78v-vm56", "requests", "2.32.0"),
        ]

    def test_a_clean_pip_audit_report_has_no_findings(self):
        report = parse_dependency_report(sample("pip-audit-clean.json"))

        assert report == DependencyReport(format="pip-audit", findings=[], notes=[])

    def test_several_fix_versions_are_joined_and_none_leaves_the_field_blank(self):
        report = report_of(
            {
                "dependencies": [
                    {
                        "name": "urllib3",
                        "version": "1.26.5",
                        "vulns": [
                            {"id": "GHSA-v845-jxx5-vc9f", "fix_versions": ["1.26.17", "2.0.6"]},
                            {"id": "PYSEC-2099-1", "fix_versions": []},
                        ],
                    }
                ]
            }
        )

        assert [f.fixed_version for f in report.findings] == ["1.26.17, 2.0.6", ""]

    def test_unrated_pip_audit_findings_block_like_critical_ones(self):
        findings = parse_dependency_report(sample("pip-audit-vulnerable.json")).findings

        assert {f.severity for f in findings} == {"unknown"}
        assert has_open_critical(findings) is True

    def test_a_verdict_rating_every_unrated_finding_low_unblocks_it(self):
        findings = parse_dependency_report(sample("pip-audit-vulnerable.json")).findings
        verdicts = {
            (f.vulnerability_id, f.package): SimpleNamespace(severity="low", status="open")
            for f in findings
        }

        assert has_open_critical(findings, verdicts) is False
        assert {f.severity for f in with_verdicts(findings, verdicts)} == {"low"}

    def test_a_verdict_rating_an_unrated_finding_critical_keeps_it_blocking(self):
        findings = parse_dependency_report(sample("pip-audit-vulnerable.json")).findings
        first = findings[0]
        verdicts = {
            (f.vulnerability_id, f.package): SimpleNamespace(severity="low", status="open")
            for f in findings
        }
        verdicts[(first.vulnerability_id, first.package)] = SimpleNamespace(
            severity="critical", status="open"
        )

        assert blocking_findings(findings, verdicts) == [replace(first, severity="critical")]


class TestTrivy:
    def test_trivy_findings_across_targets_keep_their_severity(self):
        report = parse_dependency_report(sample("trivy-vulnerable.json"))

        assert report.format == "trivy"
        assert [
            (f.vulnerability_id, f.package, f.installed_version, f.severity, f.fixed_version)
            for f in report.findings
        ] == [
            ("CVE-2011-3374", "apt", "2.6.1", "low", ""),
            ("CVE-2020-14343", "PyYAML", "5.3.1", "critical", "5.4"),
            ("CVE-2025-32434", "torch", "2.5.1", "critical", "2.6.0"),
            ("CVE-2024-22195", "Jinja2", "3.1.2", "medium", "3.1.3"),
            ("CVE-2024-35195", "requests", "2.31.0", "medium", "2.32.0"),
        ]

    def test_trivy_status_fixed_means_a_fix_exists_so_the_finding_stays_open(self):
        report = parse_dependency_report(sample("trivy-vulnerable.json"))

        assert {f.status for f in report.findings} == {"open"}
        assert has_open_critical(report.findings) is True

    def test_trivy_status_not_affected_is_not_affected(self):
        report = report_of(trivy_with(Severity="CRITICAL", Status="not_affected"))

        assert report.findings[0].status == "not_affected"
        assert has_open_critical(report.findings) is False

    def test_a_clean_trivy_report_has_no_findings(self):
        report = parse_dependency_report(sample("trivy-clean.json"))

        assert report == DependencyReport(format="trivy", findings=[])

    def test_a_trivy_report_without_results_is_clean(self):
        report = report_of({"SchemaVersion": 2, "ArtifactName": "image", "ArtifactType": "fs"})

        assert report.findings == []

    @pytest.mark.parametrize(
        ("trivy", "expected"),
        [
            ("CRITICAL", "critical"),
            ("HIGH", "high"),
            ("MEDIUM", "medium"),
            ("LOW", "low"),
            ("UNKNOWN", "unknown"),
            ("critical", "critical"),
            ("SEVERE", "unknown"),
            (None, "unknown"),
        ],
    )
    def test_trivy_severity_maps_to_the_registry_vocabulary(self, trivy, expected):
        report = report_of(trivy_with(Severity=trivy))

        assert report.findings[0].severity == expected

    def test_the_same_finding_in_two_targets_is_reported_once(self):
        document = trivy_with(Severity="HIGH")
        document["Results"] = document["Results"] * 2

        assert len(report_of(document).findings) == 1


class TestGrype:
    def test_grype_matches_are_read_with_fix_versions(self):
        report = parse_dependency_report(sample("grype-vulnerable.json"))

        assert report == DependencyReport(
            format="grype",
            findings=[
                ParsedFinding(
                    "GHSA-53q9-r3pm-6pq6", "torch", "2.5.1", "critical", "2.6.0", "open", "grype"
                ),
                ParsedFinding(
                    "GHSA-9wx4-h78v-vm56", "requests", "2.31.0", "medium", "2.32.0", "open", "grype"
                ),
                ParsedFinding("CVE-2011-3374", "apt", "2.6.1", "low", "", "open", "grype"),
            ],
        )
        assert has_open_critical(report.findings) is True

    def test_a_clean_grype_report_has_no_findings(self):
        report = parse_dependency_report(sample("grype-clean.json"))

        assert report == DependencyReport(format="grype", findings=[])

    @pytest.mark.parametrize(
        ("grype", "expected"),
        [
            ("Critical", "critical"),
            ("High", "high"),
            ("Medium", "medium"),
            ("Low", "low"),
            ("Negligible", "low"),
            ("Unknown", "unknown"),
            ("", "unknown"),
        ],
    )
    def test_grype_severity_maps_to_the_registry_vocabulary(self, grype, expected):
        assert report_of(grype_with(grype)).findings[0].severity == expected

    def test_a_grype_match_without_an_artifact_is_refused(self):
        document = {"matches": [{"vulnerability": {"id": "CVE-2024-0001"}}]}

        with pytest.raises(EvidenceError) as caught:
            report_of(document)

        assert str(caught.value) == "The dependency report's matches[0].artifact must be an object."


class TestCycloneDx:
    def test_cyclonedx_vulnerabilities_resolve_components_ratings_and_analysis(self):
        report = parse_dependency_report(sample("cyclonedx-vdr-vulnerable.json"))

        assert report == DependencyReport(
            format="cyclonedx",
            findings=[
                ParsedFinding(
                    "CVE-2020-14343", "PyYAML", "5.3.1", "critical", "5.4", "open", "cyclonedx"
                ),
                ParsedFinding(
                    "CVE-2024-22195", "jinja2", "3.1.2", "medium", "3.1.3", "open", "cyclonedx"
                ),
                ParsedFinding(
                    "CVE-2024-35195",
                    "requests",
                    "2.31.0",
                    "medium",
                    "",
                    "not_affected",
                    "cyclonedx",
                ),
                ParsedFinding(
                    "CVE-2025-32434", "torch", "2.5.1", "critical", "", "fixed", "cyclonedx"
                ),
            ],
        )
        assert has_open_critical(report.findings) is True

    def test_a_clean_cyclonedx_report_has_no_findings(self):
        report = parse_dependency_report(sample("cyclonedx-vdr-clean.json"))

        assert report == DependencyReport(format="cyclonedx", findings=[])

    def test_a_cyclonedx_sbom_without_vulnerabilities_is_not_a_clean_scan(self):
        with pytest.raises(EvidenceError) as caught:
            parse_dependency_report(sample("sbom-cyclonedx-1.6.json"))

        assert str(caught.value) == (
            "The CycloneDX document has no 'vulnerabilities' array: it is an SBOM, not a "
            "vulnerability report."
        )

    @pytest.mark.parametrize(
        ("severity", "expected"),
        [
            ("critical", "critical"),
            ("high", "high"),
            ("medium", "medium"),
            ("low", "low"),
            ("info", "low"),
            ("none", "low"),
            ("unknown", "unknown"),
        ],
    )
    def test_cyclonedx_severity_maps_to_the_registry_vocabulary(self, severity, expected):
        report = report_of(cyclonedx_with(ratings=[{"severity": severity}]))

        assert report.findings[0].severity == expected

    @pytest.mark.parametrize(
        ("score", "expected"),
        [
            (10.0, "critical"),
            (9.0, "critical"),
            (8.9, "high"),
            (7.0, "high"),
            (6.9, "medium"),
            (4.0, "medium"),
            (3.9, "low"),
            (0.0, "low"),
        ],
    )
    def test_a_cvss_score_without_a_severity_gets_its_cvss_band(self, score, expected):
        report = report_of(cyclonedx_with(ratings=[{"score": score, "method": "CVSSv31"}]))

        assert report.findings[0].severity == expected

    def test_a_score_from_a_non_cvss_method_does_not_imply_a_severity(self):
        report = report_of(cyclonedx_with(ratings=[{"score": 9.5, "method": "OWASP"}]))

        assert report.findings[0].severity == "unknown"

    def test_the_most_severe_of_several_ratings_counts(self):
        ratings = [{"severity": "medium"}, {"severity": "unknown"}, {"severity": "critical"}]

        assert report_of(cyclonedx_with(ratings=ratings)).findings[0].severity == "critical"

    @pytest.mark.parametrize(
        ("state", "expected"),
        [
            ("resolved", "fixed"),
            ("resolved_with_pedigree", "fixed"),
            ("not_affected", "not_affected"),
            ("false_positive", "not_affected"),
            ("exploitable", "open"),
            ("in_triage", "open"),
        ],
    )
    def test_cyclonedx_analysis_state_maps_to_a_finding_status(self, state, expected):
        report = report_of(cyclonedx_with(analysis={"state": state}))

        assert report.findings[0].status == expected

    def test_a_vulnerability_affecting_two_components_gives_two_findings(self):
        affects = [{"ref": "pkg:pypi/a@1.0"}, {"ref": "pkg:npm/%40scope/b@2.0"}]

        report = report_of(cyclonedx_with(affects=affects))

        assert [(f.package, f.installed_version) for f in report.findings] == [
            ("a", "1.0"),
            ("@scope/b", "2.0"),
        ]

    def test_a_vulnerability_that_affects_nothing_is_refused(self):
        with pytest.raises(EvidenceError) as caught:
            report_of(cyclonedx_with(affects=[]))

        assert str(caught.value) == (
            "The dependency report's vulnerabilities[0] (CVE-2024-0001) names no affected "
            "component."
        )


class TestHasOpenCritical:
    def test_an_open_critical_finding_blocks(self):
        assert has_open_critical([finding(severity="low"), finding()]) is True

    @pytest.mark.parametrize(
        "other", [finding(severity="high"), finding(status="fixed"), finding(status="not_affected")]
    )
    def test_high_fixed_or_not_affected_findings_do_not_block(self, other):
        assert has_open_critical([other]) is False

    def test_no_findings_do_not_block(self):
        assert has_open_critical([]) is False

    def test_the_vocabularies_are_the_registry_choices(self):
        report = parse_dependency_report(sample("cyclonedx-vdr-vulnerable.json"))

        assert {f.severity for f in report.findings} <= set(Severity.values)
        assert {f.status for f in report.findings} <= set(FindingStatus.values)


class TestFormatDetection:
    @pytest.mark.parametrize(
        "document",
        [
            {},
            [],
            {"vulnerabilities": []},
            {"runs": [{"tool": {"driver": {"name": "bandit"}}}]},
            {"spdxVersion": "SPDX-2.3"},
            "matches",
            [1, 2, 3],
        ],
        ids=[
            "empty object",
            "empty array",
            "bare vulnerabilities",
            "SARIF",
            "SPDX",
            "string",
            "numbers",
        ],
    )
    def test_an_unrecognised_document_is_refused_not_treated_as_clean(self, document):
        with pytest.raises(EvidenceError) as caught:
            report_of(document)

        assert str(caught.value) == (
            "The dependency report is not in a recognised format: expected pip-audit, Trivy, "
            "Grype or CycloneDX vulnerability JSON."
        )

    def test_a_document_matching_two_formats_is_refused_as_ambiguous(self):
        with pytest.raises(EvidenceError) as caught:
            detect_format({"matches": [], "Results": []})

        assert (
            str(caught.value)
            == "The dependency report is ambiguous: it looks like grype and trivy."
        )

    @pytest.mark.parametrize(
        ("document", "message"),
        [
            (
                trivy_with(VulnerabilityID=7),
                "The dependency report's Results[0].Vulnerabilities[0].VulnerabilityID must "
                "be a string.",
            ),
            (
                trivy_with(PkgName=""),
                "The dependency report's Results[0].Vulnerabilities[0] has no PkgName.",
            ),
            (
                trivy_with(VulnerabilityID="X" * 101),
                "The dependency report's Results[0].Vulnerabilities[0].VulnerabilityID is "
                "longer than 100 characters.",
            ),
            (
                {"SchemaVersion": 2, "ArtifactName": "x", "Results": {"not": "a list"}},
                "The dependency report's $.Results must be an array.",
            ),
            (
                {"dependencies": [{"name": "a", "version": "1", "vulns": [{"id": None}]}]},
                "The dependency report's dependencies[0].vulns[0] has no id.",
            ),
        ],
        ids=["id not a string", "empty package", "id too long", "Results not a list", "no id"],
    )
    def test_wrongly_typed_fields_are_refused_with_their_path(self, document, message):
        with pytest.raises(EvidenceError) as caught:
            report_of(document)

        assert str(caught.value) == message

    def test_an_overlong_fix_version_list_is_clipped_to_the_column_width(self):
        versions = [f"1.{minor}.0" for minor in range(100)]
        document = {
            "dependencies": [
                {"name": "a", "version": "1", "vulns": [{"id": "X-1", "fix_versions": versions}]}
            ]
        }

        fixed = report_of(document).findings[0].fixed_version

        assert len(fixed) == 200
        assert fixed.endswith("...")


class TestHostileInput:
    @pytest.mark.parametrize("data", HOSTILE_INPUTS.values(), ids=HOSTILE_INPUTS.keys())
    def test_hostile_input_raises_evidence_error_in_bounded_time(self, data):
        started = time.thread_time()

        with pytest.raises(EvidenceError):
            parse_dependency_report(data)

        assert time.thread_time() - started < HOSTILE_SECONDS

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (
                b"[" * 100_000 + b"]" * 100_000,
                "The dependency report is nested deeper than 64 levels.",
            ),
            (
                b'{"matches": [], "n": 1e400}',
                "The dependency report contains the number 1e400, which is out of range.",
            ),
            (
                b'{"matches": [], "n": NaN}',
                "The dependency report contains NaN, which is not a JSON number.",
            ),
            (
                b'{"matches": [], "matches": []}',
                "The dependency report has a duplicate key 'matches'.",
            ),
            (
                gzip.compress(b'{"matches": []}'),
                "The dependency report is gzip-compressed; upload the uncompressed JSON document.",
            ),
        ],
        ids=["depth", "1e400", "NaN", "duplicate", "gzip"],
    )
    def test_each_hostile_input_gets_a_message_saying_what_is_wrong(self, data, message):
        with pytest.raises(EvidenceError) as caught:
            parse_dependency_report(data)

        assert str(caught.value) == message

    def test_a_caller_can_lower_the_size_limit(self):
        with pytest.raises(EvidenceError) as caught:
            parse_dependency_report(sample("grype-vulnerable.json"), max_bytes=100)

        assert str(caught.value).endswith("the limit is 100 bytes.")
