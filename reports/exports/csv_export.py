"""The report as one CSV stream: per section a line naming it, a header line, its rows (or
"none recorded") and a blank line."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from itertools import islice

from django.utils import timezone

from reports.exports.cells import cell_text, report_header
from reports.scope import ReportScope
from reports.sections import NONE_RECORDED, report_sections

SPELLED = (datetime, dict, list, tuple)
#: Rows written per chunk the response sends.
ROWS_PER_CHUNK = 1000


class _Line:
    """csv.writer's file: hands back what it is asked to write (Django's streaming-CSV
    recipe), so nothing accumulates."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(scope: ReportScope, *, now: datetime | None = None) -> Iterator[str]:
    """The report's text, chunk by chunk (``now``: the moment the header states)."""
    writer = csv.writer(_Line())
    header = report_header(scope, generated_at=now or timezone.now())
    yield writer.writerow(["report", header["format"], header["generated_at"]])
    yield writer.writerow(["scope", *[f"{k}={v}" for k, v in header["scope"].items() if v]])
    for section in report_sections(scope):
        yield writer.writerow(["section", section.key, section.title])
        yield writer.writerow(section.columns)
        empty = True
        for text in _row_chunks(section.records(), len(section.columns)):
            empty = False
            yield text
        if empty:
            yield writer.writerow([NONE_RECORDED])
        yield writer.writerow([])


def _row_chunks(records: Iterator[tuple], width: int) -> Iterator[str]:
    """The records' CSV lines, ``ROWS_PER_CHUNK`` at a time: one ``writerows`` call (C) per
    chunk into a reused buffer. csv writes str, numbers and None as they are; only moments
    and structures are spelled out (a call per cell was most of a large export's time), and
    a cited pair after the columns is left out."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    while batch := list(islice(records, ROWS_PER_CHUNK)):
        writer.writerows(
            [cell_text(v) if isinstance(v, SPELLED) else v for v in record[:width]]
            for record in batch
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
