"""The fast CSV and JSON writers give, byte for byte, what the plain reading of the report
gives: every section's rows as dicts (``Section.rows()``), every CSV cell spelled by
``cell_text`` and written one ``writerow`` at a time, every JSON row encoded on its own.
The moments the history and transitions sections read as text equal what the ORM loads."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import DateTimeField, Value

from audit.models import AuditEvent
from audit.services import audit_log_seal
from registry.models import ModelVersion
from reports.exports.cells import cell_text, report_header
from reports.exports.csv_export import csv_chunks
from reports.exports.json_export import json_chunks
from reports.proofs import Citations, canonical_texts, proofs_for, verification_result
from reports.scope import report_scope
from reports.sections import CITED, NONE_RECORDED, report_sections
from reports.sections.base import InstantText, instant_of

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 2, 9, 30, 15, 250000, tzinfo=UTC)
SCOPES = ({"model": "alpha/support-bot"}, {"team": "alpha"}, {"customer": "acme"}, {})


def plain_csv(scope) -> str:
    """The report as CSV the slow, obvious way: one cell and one line at a time."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = report_header(scope, generated_at=NOW)
    writer.writerow(["report", header["format"], header["generated_at"]])
    writer.writerow(["scope", *[f"{k}={v}" for k, v in header["scope"].items() if v]])
    for section in report_sections(scope):
        writer.writerow(["section", section.key, section.title])
        writer.writerow(section.columns)
        rows = list(section.rows())
        for row in rows:
            writer.writerow([cell_text(row[column]) for column in section.columns])
        if not rows:
            writer.writerow([NONE_RECORDED])
        writer.writerow([])
    return out.getvalue()


def plain_json(scope) -> str:
    """The report without proofs as JSON the obvious way: the whole document at once."""

    def dumps(value):
        return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))

    sections = [
        {
            "key": section.key,
            "title": section.title,
            "window": section.window_field,
            "columns": section.columns,
            "rows": [[row[column] for column in section.columns] for row in section.rows()],
        }
        for section in report_sections(scope)
    ]
    return dumps({"report": {**report_header(scope, generated_at=NOW), "sections": sections}})


@pytest.mark.parametrize("where", SCOPES, ids=["model", "team", "customer", "everything"])
def test_the_csv_export_is_byte_for_byte_the_plain_reading(scenario, where):
    # Given the scenario's report for a model, a team, a customer or everything
    scope = report_scope(actor=scenario.auditor, **where)

    # When the streaming writer writes it
    streamed = "".join(csv_chunks(scope, now=NOW))

    # Then it equals the cell-by-cell CSV, and the report has rows in most sections
    assert streamed == plain_csv(scope)
    assert streamed.count(NONE_RECORDED) < len(report_sections(scope))


@pytest.mark.parametrize("where", SCOPES, ids=["model", "team", "customer", "everything"])
def test_the_json_export_without_proofs_is_byte_for_byte_the_plain_reading(scenario, where):
    scope = report_scope(actor=scenario.auditor, **where)

    streamed = "".join(json_chunks(scope, with_proofs=False, now=NOW))

    assert streamed == plain_json(scope)
    assert json.loads(streamed)["report"]["generated_at"] == NOW.isoformat()


def test_each_cited_row_of_the_json_is_its_canonical_text_in_row_order(
    scenario, tmp_path, settings, django_capture_on_commit_callbacks
):
    # Given a sealed log
    settings.GOVBOARD_AUDIT_HEADS_URL = f"file://{tmp_path / 'heads'}"
    settings.GOVBOARD_AUDIT_WITNESS_URL = ""
    with django_capture_on_commit_callbacks(execute=True):
        audit_log_seal(now=NOW)
    scope = report_scope(actor=scenario.auditor, team="alpha")

    # When the JSON export is written with its proofs
    text = "".join(json_chunks(scope, now=NOW))
    document = json.loads(text)

    # Then each citing section's rows are the plain rows followed by their cited row
    by_key = {section.key: section for section in report_sections(scope)}
    for exported in document["report"]["sections"]:
        section = by_key[exported["key"]]
        if not section.cites:
            continue
        rows = list(section.rows())
        texts = canonical_texts([row[CITED] for row in rows])
        expected = [
            [
                *[row[column] for column in section.columns],
                {"table": row[CITED][0], "pk": row[CITED][1], "canonical": texts[row[CITED]]},
            ]
            for row in rows
        ]
        assert rows
        assert exported["rows"] == json.loads(json.dumps(expected, cls=DjangoJSONEncoder))
    # And the streamed proofs are, byte for byte, the bundle of those rows dumped whole
    citations = Citations()
    for section in report_sections(scope):
        for row in section.rows() if section.cites else ():
            citations.add(*row[CITED])
    whole = json.dumps(
        proofs_for(citations), cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":")
    )
    assert text.endswith(',"proofs":' + whole + "}")
    assert len(document["proofs"]["entries"]) == len(citations) > 20
    assert document["proofs"]["unsealed"] == []
    assert verification_result(document)[0]


def test_a_moment_read_as_text_is_the_moment_the_orm_loads(scenario):
    # Given stored moments, and a whole second (isoformat leaves zero microseconds out)
    whole = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    events = AuditEvent.objects.order_by("id")
    history = ModelVersion.history.model.objects.order_by("history_id")

    # When they are read through InstantText and instant_of
    read = [instant_of(text) for text in events.values_list(InstantText("occurred_at"), flat=True)]
    history_read = [
        instant_of(text) for text in history.values_list(InstantText("history_date"), flat=True)
    ]
    literal = events.values_list(
        InstantText(Value(whole, output_field=DateTimeField())), flat=True
    ).first()

    # Then they are the ORM's datetimes, in the same zone, spelled the same
    moments = list(events.values_list("occurred_at", flat=True))
    assert read == moments and len(moments) > 10
    assert [m.isoformat() for m in read] == [m.isoformat() for m in moments]
    assert history_read == list(history.values_list("history_date", flat=True))
    assert instant_of(literal).isoformat() == "2026-01-02T03:04:05+00:00"
    assert instant_of(None) is None
