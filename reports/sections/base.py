"""What every report section is: a title, its columns and a lazy stream of rows.

Rows are dicts keyed by the columns. A row may cite one audit-log or history row under
``CITED`` as ``(table, pk)``: the JSON export proves exactly those (inclusion proofs).
Each section's rows come from a fixed number of queries read in chunks, whatever the size
of the data, so an export runs in bounded memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from audit.models import AuditEvent

#: Rows read per round trip by every section (``QuerySet.iterator(chunk_size=...)``).
CHUNK_SIZE = 2000
#: The key under which a row names the audit or history row it rests on.
CITED = "_cited"
#: What a section says when it has no rows.
NONE_RECORDED = "none recorded"
AUDIT_EVENT_TABLE = AuditEvent._meta.db_table

Row = dict[str, Any]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    columns: tuple[str, ...]
    rows: Callable[[], Iterator[Row]]
    #: How the section's rows are filtered by the window (said in the report).
    window_field: str = ""
    #: Whether its rows cite audit or history rows (under ``CITED``).
    cites: bool = False


def rows_of(values: Any, columns: tuple[str, ...]) -> Iterator[Row]:
    """A ``values_list`` queryset (in ``columns`` order) as row dicts, read in chunks."""
    for row in values.iterator(chunk_size=CHUNK_SIZE):
        yield dict(zip(columns, row, strict=True))
