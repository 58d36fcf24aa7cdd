"""The report as JSON, written incrementally: ``{"report": {...}, "proofs": {...}}``.

Each section is ``{"key", "title", "window", "columns", "rows": [[...], ...]}`` (rows as
arrays in column order). A section whose rows rest on audit events or history rows ends
each row with ``{"table", "pk", "canonical"}`` — the row as the transparency log hashed
it, read in one query per chunk — and ``proofs`` carries the inclusion proof of every one
and the signed tree head, so ``tools/verify_audit_export.py`` checks the export offline
(it matches each cited row with its proof). The proofs stream too, computed chunk by
chunk as they are written (``audit.transparency.bundle.ProofStream``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import islice

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from audit.transparency.bundle import BUNDLE_FORMAT
from reports.exports.cells import report_header
from reports.proofs import Citations, canonical_texts, proof_stream
from reports.scope import ReportScope
from reports.sections import Section, report_sections

ROWS_PER_CHUNK = 1000


#: One encoder for the whole export (``json.dumps`` with ``cls=`` builds one per call).
_ENCODER = DjangoJSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: object) -> str:
    return _ENCODER.encode(value)


def json_chunks(
    scope: ReportScope, *, with_proofs: bool = True, now: datetime | None = None
) -> Iterator[str]:
    """The report's text, chunk by chunk; ``with_proofs=False`` leaves out the canonical
    rows and the proofs (for measuring the report alone); ``now``: the header's moment."""
    citations = Citations()
    header = report_header(scope, generated_at=now or timezone.now())
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
        records = section.records()
        while batch := list(islice(records, ROWS_PER_CHUNK)):
            arrays = _arrays(section, batch, citations if cites else None)
            yield ("" if first else ",") + dumps(arrays)[1:-1]
            first = False
        yield "]}"
    yield "]}"
    if with_proofs:
        yield ',"proofs":'
        yield from _proof_chunks(citations)
    yield "}"


def _proof_chunks(citations: Citations) -> Iterator[str]:
    """The proof bundle as text, ``ROWS_PER_CHUNK`` entries at a time while they are
    computed: the same bytes as the bundle dumped whole, never held whole."""
    stream = proof_stream(citations)
    yield '{"format":' + dumps(BUNDLE_FORMAT) + ',"tree_head":' + dumps(stream.tree_head)
    for key, items in (("entries", stream.entries()), ("unsealed", stream.unsealed())):
        yield ',"' + key + '":['
        first = True
        while batch := list(islice(items, ROWS_PER_CHUNK)):
            yield ("" if first else ",") + dumps(batch)[1:-1]
            first = False
        yield "]"
    yield "}"


def _arrays(section: Section, batch: list[tuple], citations: Citations | None) -> list:
    """The batch's records as JSON arrays; with ``citations``, each ends with its cited
    row as the log hashed it (and the pair is remembered for the proofs)."""
    width = len(section.columns)
    if not section.cites:
        return batch
    if citations is None:
        return [record[:width] for record in batch]
    cited = [record[width] for record in batch]
    arrays = [list(record[:width]) for record in batch]
    texts = canonical_texts([pair for pair in cited if pair is not None])
    for values, pair in zip(arrays, cited, strict=True):
        if pair is None:
            values.append(None)
            continue
        citations.add(*pair)
        values.append({"table": pair[0], "pk": pair[1], "canonical": texts.get(pair)})
    return arrays
