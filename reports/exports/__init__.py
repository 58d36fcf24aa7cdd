"""The report in its three formats. CSV and JSON stream (a generator of text chunks, read
section by section in chunks of rows); the PDF is built in memory, its tables capped."""

from __future__ import annotations

from collections.abc import Iterator

from reports.exports.csv_export import csv_chunks
from reports.exports.json_export import json_chunks
from reports.scope import ReportScope

FORMATS = ("csv", "json", "pdf")
CONTENT_TYPES = {"csv": "text/csv", "json": "application/json", "pdf": "application/pdf"}


def report_chunks(scope: ReportScope, export_format: str) -> Iterator[bytes]:
    """The report as bytes chunks, in ``export_format`` (one of ``FORMATS``)."""
    if export_format == "csv":
        return (chunk.encode() for chunk in csv_chunks(scope))
    if export_format == "json":
        return (chunk.encode() for chunk in json_chunks(scope))
    if export_format == "pdf":
        from reports.exports.pdf_export import pdf_bytes

        return iter([pdf_bytes(scope)])
    raise ValueError(f"unknown report format {export_format!r}")


def report_filename(scope: ReportScope, export_format: str, *, now_text: str) -> str:
    subject = (
        str(scope.model).replace("/", "-")
        if scope.model
        else scope.team.slug
        if scope.team
        else scope.customer or "all-teams"
    )
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in subject)[:80]
    return f"govboard-report-{safe}-{now_text}.{export_format}"


__all__ = ["CONTENT_TYPES", "FORMATS", "report_chunks", "report_filename"]
