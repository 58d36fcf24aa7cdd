"""The report in CSV, JSON and PDF: every section, "none recorded" where nothing is, and a
JSON export that the standalone verifier checks offline once the log is sealed (AUD-8)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.services import audit_log_seal
from reports.exports import report_chunks
from reports.exports.pdf_export import proof_lines
from reports.proofs import Citations, verification_result
from reports.scope import report_scope
from reports.sections import SECTION_BUILDERS
from tests.reports.scenario import more_deployments

pytestmark = pytest.mark.django_db
SEALED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def heads_dir(tmp_path, settings):
    settings.GOVBOARD_AUDIT_HEADS_URL = f"file://{tmp_path / 'heads'}"
    settings.GOVBOARD_AUDIT_WITNESS_URL = ""
    return tmp_path / "heads"


def export(scope, export_format: str) -> bytes:
    return b"".join(report_chunks(scope, export_format))


def sealed(django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        audit_log_seal(now=SEALED_AT)


def csv_sections(data: bytes) -> dict[str, list[list[str]]]:
    """section key → its lines after the header line (rows, or "none recorded")."""
    sections: dict[str, list[list[str]]] = {}
    current = None
    for line in csv.reader(io.StringIO(data.decode())):
        if line and line[0] == "section":
            current = sections.setdefault(line[1], [])
        elif current is not None and line:
            current.append(line)
    return {key: lines[1:] for key, lines in sections.items()}


def test_the_csv_names_every_section_and_says_none_recorded_where_nothing_is(scenario):
    scope = report_scope(actor=scenario.auditor, model="alpha/thresholds")

    sections = csv_sections(export(scope, "csv"))

    assert list(sections) == [build(scope).key for build in SECTION_BUILDERS]
    # The config was never promoted through a request: nothing approved it, no checks.
    assert sections["evaluations"] == [["none recorded"]]
    assert sections["checks"] == [["none recorded"]]
    (serving,) = sections["serving"]
    assert serving[:7] == [
        "acme",
        "production",
        "general",
        "alpha",
        "thresholds",
        "config",
        "2.0.0",
    ]
    assert serving[8] == "2026-03-01T00:00:00+00:00"


def test_the_json_holds_the_sections_their_cited_rows_and_proofs(scenario, heads_dir):
    scope = report_scope(actor=scenario.auditor, model="alpha/support-bot")

    document = json.loads(export(scope, "json"))

    sections = {s["key"]: s for s in document["report"]["sections"]}
    assert list(sections) == [build(scope).key for build in SECTION_BUILDERS]
    transitions = sections["transitions"]
    assert transitions["columns"][-1] == "cited"
    cited = [row[-1] for row in transitions["rows"]]
    assert all(c["table"] == "audit_auditevent" and c["canonical"] for c in cited)
    assert document["proofs"]["format"] == "govboard-audit-bundle/1"
    # Nothing sealed yet: every cited row is listed as unsealed, none proven.
    assert document["proofs"]["entries"] == []
    history = len(sections["history"]["rows"])
    assert len(document["proofs"]["unsealed"]) == len(cited) + history


def test_a_sealed_export_verifies_offline_and_a_flipped_cell_is_caught(
    scenario, heads_dir, django_capture_on_commit_callbacks
):
    sealed(django_capture_on_commit_callbacks)
    scope = report_scope(actor=scenario.auditor, model="alpha/support-bot")
    document = json.loads(export(scope, "json"))

    verified, summary = verification_result(document)

    assert verified, summary
    assert document["proofs"]["unsealed"] == []
    # One cell of one cited event flipped in the report: the verifier names it.
    row = document["report"]["sections"][6]["rows"][0]
    row[-1]["canonical"] = row[-1]["canonical"].replace("promotion.", "promotion.X", 1)
    verified, summary = verification_result(document)
    assert not verified
    assert f"audit_auditevent pk {row[-1]['pk']} differs from its proof" in summary


def test_the_pdf_is_a_pdf_and_states_the_head_its_digest_and_the_verification(
    scenario, heads_dir, django_capture_on_commit_callbacks
):
    sealed(django_capture_on_commit_callbacks)
    scope = report_scope(actor=scenario.auditor, model="alpha/support-bot")
    citations = Citations()
    citations.add("audit_auditevent", str(scenario.first_request.pk and _first_event_id()))

    pdf = export(scope, "pdf")
    lines = proof_lines(citations)

    assert pdf.startswith(b"%PDF-") and len(pdf) > 5000
    assert lines[0].startswith("Cited audit events and history rows: 1; proven: 1;")
    assert lines[1].startswith("Signed tree head: size ")
    assert lines[2].startswith("Tree head digest (sha256 of its canonical JSON): ")
    assert lines[3].startswith("Verification: verified 1 entries against tree head size")


def test_before_any_seal_the_pdf_says_no_head_exists(scenario, heads_dir):
    citations = Citations()
    citations.add("audit_auditevent", str(_first_event_id()))

    lines = proof_lines(citations)

    assert "No signed tree head exists yet (the seal job has not run)." in lines
    assert lines[-1].startswith("Verification did not pass: FAILED: the bundle has no signed")


def _first_event_id() -> int:
    from audit.models import AuditEvent

    return AuditEvent.objects.order_by("id").values_list("id", flat=True).first()


def test_the_csv_makes_the_same_number_of_queries_at_two_sizes(scenario):
    scope = report_scope(actor=scenario.auditor, team="alpha")
    counts = []
    for count, major in ((2, 5), (20, 6)):
        more_deployments(scenario, count, major=major)
        with CaptureQueriesContext(connection) as queries:
            export(scope, "csv")
        counts.append(len(queries))

    assert counts[0] == counts[1]
