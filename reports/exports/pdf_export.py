"""The report as a PDF (ReportLab, pure Python): one table per section, then the proofs.

A PDF is read by people, so each table shows at most ``PDF_ROWS_PER_SECTION`` rows and
says how many more the CSV or JSON export holds; cells are cut at ``PDF_CELL_CHARS``.
Every audit event and history row the sections cite (all of them, shown or not) is proven
against the latest signed tree head, and the PDF states the head, its digest and what the
standalone verifier (tools/verify_audit_export.py, run in-process on the same bundle the
JSON export carries) said of it.
"""

from __future__ import annotations

import io
from typing import Any

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.doctemplate import LayoutError

from reports.exports.cells import cell_text, report_header
from reports.proofs import Citations, head_digest, proofs_for, verification_result
from reports.scope import ReportScope
from reports.sections import CITED, NONE_RECORDED, report_sections

PDF_ROWS_PER_SECTION = 500
PDF_CELL_CHARS = 60

_TABLE_STYLE = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 6),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 6),
        ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def _cut(value: object) -> str:
    text = cell_text(value)
    return text if len(text) <= PDF_CELL_CHARS else text[: PDF_CELL_CHARS - 1] + "…"


def pdf_bytes(scope: ReportScope) -> bytes:
    styles = getSampleStyleSheet()
    header = report_header(scope, generated_at=timezone.now())
    story: list = [
        Paragraph("govboard audit report", styles["Title"]),
        Paragraph(
            _escape(f"Generated {header['generated_at']} for {header['generated_for']}"),
            styles["Normal"],
        ),
        Paragraph(
            _escape(
                "Scope: "
                + (", ".join(f"{k} {v}" for k, v in header["scope"].items() if v) or "every team")
            ),
            styles["Normal"],
        ),
    ]
    citations = Citations()
    for section in report_sections(scope):
        story += [Spacer(1, 4 * mm), Paragraph(section.title, styles["Heading2"])]
        if section.window_field:
            story.append(Paragraph(f"Window applies to: {section.window_field}", styles["Italic"]))
        table = [list(section.columns)]
        more = 0
        for row in section.rows():
            cited = row.pop(CITED, None)
            if cited is not None:
                citations.add(*cited)
            if len(table) > PDF_ROWS_PER_SECTION:
                more += 1
                continue
            table.append([_cut(row[column]) for column in section.columns])
        if len(table) == 1:
            story.append(Paragraph(NONE_RECORDED, styles["Normal"]))
            continue
        story.append(Table(table, repeatRows=1, style=_TABLE_STYLE))
        if more:
            story.append(
                Paragraph(f"… and {more} more rows (see the CSV or JSON export).", styles["Italic"])
            )
    story += _proof_story(citations, styles)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=10 * mm,
        rightMargin=10 * mm,
        topMargin=10 * mm,
        bottomMargin=10 * mm,
        title="govboard audit report",
    )
    try:
        document.build(story)
    except LayoutError as exc:  # a cell wider than the page even when cut
        raise ValueError(f"The report does not fit the page: {exc}") from exc
    return buffer.getvalue()


def _proof_story(citations: Citations, styles: Any) -> list:
    return [
        Spacer(1, 4 * mm),
        Paragraph("Proofs", styles["Heading2"]),
        *(Paragraph(_escape(line), styles["Normal"]) for line in proof_lines(citations)),
    ]


def proof_lines(citations: Citations) -> list[str]:
    """What the PDF says of its proofs: counts, the signed head and its digest, and the
    standalone verifier's answer on the report's proof bundle."""
    bundle = proofs_for(citations)
    verified, result = verification_result({"proofs": bundle})
    head = bundle["tree_head"]
    lines = [
        f"Cited audit events and history rows: {len(citations)}; "
        f"proven: {len(bundle['entries'])}; not yet sealed: {len(bundle['unsealed'])}.",
    ]
    if head is not None:
        lines += [
            f"Signed tree head: size {head['size']}, root {head['root_hash']}, "
            f"signed {head['timestamp']} by key {head['key_id']}.",
            f"Tree head digest (sha256 of its canonical JSON): {head_digest(bundle)}",
        ]
    else:
        lines.append("No signed tree head exists yet (the seal job has not run).")
    lines.append(
        ("Verification: " if verified else "Verification did not pass: ")
        + result
        + " (tools/verify_audit_export.py, run in-process on this report's proof bundle)."
    )
    return lines


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
