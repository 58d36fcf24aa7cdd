"""What every report section is: a title, its columns and a lazy stream of records.

A record is a tuple of the row's values in column order; a section that ``cites`` adds
one more item, the audit-log or history row it rests on as ``(table, pk)``: the JSON
export proves exactly those (inclusion proofs). ``Section.rows()`` gives the same rows
as dicts keyed by the columns (the cited pair under ``CITED``) for readers that want
names; the CSV and JSON exports read the tuples, which spares a dict per row of a
million-row export. Each section's records come from a fixed number of queries read in
chunks, whatever the size of the data, so an export runs in bounded memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Func, TextField

from audit.models import AuditEvent

#: Rows read per round trip by every section (``QuerySet.iterator(chunk_size=...)``).
CHUNK_SIZE = 5000
#: The key under which a row names the audit or history row it rests on.
CITED = "_cited"
#: What a section says when it has no rows.
NONE_RECORDED = "none recorded"
AUDIT_EVENT_TABLE = AuditEvent._meta.db_table

Row = dict[str, Any]
Record = tuple[Any, ...]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    columns: tuple[str, ...]
    #: The section's records: values in column order (then the cited pair if ``cites``).
    records: Callable[[], Iterator[Record]]
    #: How the section's rows are filtered by the window (said in the report).
    window_field: str = ""
    #: Whether its records end with the audit or history row they cite.
    cites: bool = False

    def rows(self) -> Iterator[Row]:
        """The records as dicts keyed by the columns, the cited pair under ``CITED``."""
        keys = (*self.columns, CITED) if self.cites else self.columns
        for record in self.records():
            yield dict(zip(keys, record, strict=True))


class InstantText(Func):
    """A moment column read as ISO 8601 text, for ``instant_of``.

    psycopg's timestamptz loader (the Python one, which Django subclasses to set the time
    zone) was the largest single cost of a million-row export; reading the moment as text
    and parsing it with ``datetime.fromisoformat`` (C) gives the same aware datetime for a
    sixth of the CPU. ``to_json`` spells a timestamptz in ISO 8601 whatever the session's
    DateStyle; other databases cast to text (SQLite stores ISO text already).
    """

    function = "CAST"
    template = "%(function)s(%(expressions)s AS text)"
    output_field = TextField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="to_json(%(expressions)s) #>> '{}'")


def instant_of(text: str | None) -> datetime | None:
    """The aware UTC datetime an ``InstantText`` column spells (what the ORM would load)."""
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
