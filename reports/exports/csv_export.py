"""The report as one CSV stream: per section a line naming it, a header line, its rows (or
"none recorded") and a blank line."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime

from django.utils import timezone

from reports.exports.cells import cell_text, report_header
from reports.scope import ReportScope
from reports.sections import CITED, NONE_RECORDED, report_sections

SPELLED = (datetime, dict, list, tuple)
#: Rows written per chunk the response sends.
ROWS_PER_CHUNK = 1000


class _Line:
    """csv.writer's file: hands back what it is asked to write (Django's streaming-CSV
    recipe), so nothing accumulates."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(scope: ReportScope) -> Iterator[str]:
    writer = csv.writer(_Line())
    header = report_header(scope, generated_at=timezone.now())
    yield writer.writerow(["report", header["format"], header["generated_at"]])
    yield writer.writerow(["scope", *[f"{k}={v}" for k, v in header["scope"].items() if v]])
    for section in report_sections(scope):
        yield writer.writerow(["section", section.key, section.title])
        yield writer.writerow(section.columns)
        batch: list[str] = []
        empty = True
        for row in section.rows():
            empty = False
            row.pop(CITED, None)
            # csv writes str, numbers and None as they are; only moments and structures
            # need spelling out (the per-cell call is most of a large export's time).
            cells = [row[column] for column in section.columns]
            batch.append(
                writer.writerow([cell_text(v) if isinstance(v, SPELLED) else v for v in cells])
            )
            if len(batch) >= ROWS_PER_CHUNK:
                yield "".join(batch)
                batch = []
        if batch:
            yield "".join(batch)
        if empty:
            yield writer.writerow([NONE_RECORDED])
        yield writer.writerow([])
