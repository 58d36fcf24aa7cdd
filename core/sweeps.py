"""The one loop every scheduled job uses: chunked by id, one item per transaction, and
one item's failure never stops the rest.

A sweep selects candidate ids in chunks (a cheap indexed read, no lock), then hands each
id to ``handle`` inside its own transaction. ``handle`` locks the row (``skip_locked``
where two sweeps may race), re-reads it under the lock, decides, and returns whether it
changed anything. An exception in ``handle`` rolls back that item only; it is logged with
the id and the sweep goes on, so one bad row cannot hold every other one hostage.

A sweep that changes many rows may also pass ``handle_chunk``: the whole chunk is then
handled in one transaction (lock the chunk's rows with ``skip_locked``, re-read and
decide set-based, write in bulk), which is what makes thousands of changes cost seconds
instead of a commit each. It returns the ids it changed. If it raises, its transaction
rolls back whole and the chunk is handled again item by item with ``handle``, so a bad
row still fails alone and every guarantee of the one-item path holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import QuerySet

logger = logging.getLogger(__name__)


@dataclass
class SweepReport:
    """What one run did: items changed, left alone (skipped), and ids that failed."""

    name: str
    changed: int = 0
    skipped: int = 0
    failed: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.name}: {self.changed} changed, {self.skipped} left alone, "
            f"{len(self.failed)} failed"
        )


def sweep(
    *,
    name: str,
    candidates: QuerySet,
    handle: Callable[[int], bool],
    chunk_size: int = 200,
    handle_chunk: Callable[[list[int]], set[int]] | None = None,
) -> SweepReport:
    """Run ``handle(id)`` for every id in ``candidates``, each in its own transaction (or
    ``handle_chunk(ids)`` for each chunk, in one transaction, falling back to ``handle``).

    ``candidates`` is re-read chunk by chunk after the last id seen, so rows changed by
    the sweep itself (or by anyone else) meanwhile are simply not found again.
    """
    report = SweepReport(name=name)
    last_id = 0
    while True:
        ids = list(
            candidates.filter(id__gt=last_id)
            .order_by("id")
            .values_list("id", flat=True)[:chunk_size]
        )
        if not ids:
            break
        last_id = ids[-1]
        if handle_chunk is not None:
            try:
                with transaction.atomic():
                    changed_ids = handle_chunk(ids)
            except Exception:
                logger.exception(
                    "%s: chunk %s..%s failed; its items are handled one by one",
                    name,
                    ids[0],
                    last_id,
                )
            else:
                report.changed += len(changed_ids)
                report.skipped += len(ids) - len(changed_ids)
                continue
        for item_id in ids:
            try:
                with transaction.atomic():
                    changed = handle(item_id)
            except Exception:
                logger.exception("%s: item %s failed; the sweep goes on", name, item_id)
                report.failed.append(item_id)
                continue
            if changed:
                report.changed += 1
            else:
                report.skipped += 1
    if report.failed:
        logger.warning("%s (failed ids: %s)", report, report.failed[:50])
    else:
        logger.info("%s", report)
    return report
