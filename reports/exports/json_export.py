"""The report as JSON, written incrementally: ``{"report": {...}, "proofs": {...}}``.

Each section is ``{"key", "title", "window", "columns", "rows": [[...], ...]}`` (rows as
arrays in column order). A section whose rows rest on audit events or history rows ends
each row with ``{"table", "pk", "canonical"}`` — the row as the transparency log hashed
it, read in one query per chunk — and ``proofs`` carries the inclusion proof of every one
and the signed tree head, so ``tools/verify_audit_export.py`` checks the export offline
(it matches each cited row with its proof).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from reports.exports.cells import report_header
from reports.proofs import Citations, canonical_texts, proofs_for
from reports.scope import ReportScope
from reports.sections import CITED, Row, Section, report_sections

ROWS_PER_CHUNK = 1000


def dumps(value: object) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def json_chunks(scope: ReportScope, *, with_proofs: bool = True) -> Iterator[str]:
    """The report's text, chunk by chunk; ``with_proofs=False`` leaves out the canonical
    rows and the proofs (for measuring the report alone)."""
    citations = Citations()
    header = report_header(scope, generated_at=timezone.now())
    yield '{"report":' + dumps(header)[:-1] + ',"sections":['
    for index, section in enumerate(report_sections(scope)):
        cites = section.cites and with_proofs
        meta = {
            "key": section.key,
            "title": section.title,
            "window": section.window_field,
            "columns": [*section.columns, "cited"] if cites else section.columns,
        }
        yield ("," if index else "") + dumps(meta)[:-1] + ',"rows":['
        first = True
        for batch in _batches(section.rows()):
            arrays = _arrays(section, batch, citations if cites else None)
            yield ("" if first else ",") + dumps(arrays)[1:-1]
            first = False
        yield "]}"
    yield "]}"
    if with_proofs:
        yield ',"proofs":' + dumps(proofs_for(citations))
    yield "}"


def _batches(rows: Iterator[Row]) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= ROWS_PER_CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _arrays(section: Section, batch: list[Row], citations: Citations | None) -> list[list]:
    cited = [row.pop(CITED, None) for row in batch]
    arrays = [[row[column] for column in section.columns] for row in batch]
    if citations is None:
        return arrays
    texts = canonical_texts([pair for pair in cited if pair is not None])
    for values, pair in zip(arrays, cited, strict=True):
        if pair is None:
            values.append(None)
            continue
        citations.add(*pair)
        values.append({"table": pair[0], "pk": pair[1], "canonical": texts.get(pair)})
    return arrays
