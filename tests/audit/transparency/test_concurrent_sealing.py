"""Seal runs on PostgreSQL, on connections of their own: two at once, and a late commit."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from audit.models import AuditEvent, LogLeaf
from audit.services import audit_log_seal
from audit.transparency.database import unsealed_count, verify_audit_log
from tests.audit.transparency.conftest import add_events

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="needs PostgreSQL's locks"),
]


def _in_thread(work, results: list, barrier: threading.Barrier | None = None) -> threading.Thread:
    def run():
        try:
            if barrier is not None:
                barrier.wait(timeout=10)
            results.append(work())
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_seal_runs_at_once_seal_every_row_once_without_gaps(heads_dir):
    add_events(300)
    rows = unsealed_count()

    def seal_in_small_runs() -> list[int]:
        # Small runs, so the two threads' reads, allocations and heads interleave.
        sealed = []
        while result := audit_log_seal(limit=40):
            if not result.sealed and result.tree_size == rows:
                return sealed
            sealed.append(result.sealed)

    results: list = []
    barrier = threading.Barrier(2)
    threads = [_in_thread(seal_in_small_runs, results, barrier) for _ in range(2)]
    for thread in threads:
        thread.join(timeout=60)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(sum(runs) for runs in results) == rows
    indexes = list(LogLeaf.objects.order_by("leaf_index").values_list("leaf_index", flat=True))
    assert indexes == list(range(rows))
    assert unsealed_count() == 0
    report = verify_audit_log()
    assert report.ok, report.findings
    print(f"\nconcurrent seal: {rows} rows; each thread's runs sealed {results}; 0 gaps, 0 twice")


def test_a_row_committed_after_a_later_row_was_sealed_is_sealed_by_the_next_run(heads_dir):
    inserted, release = threading.Event(), threading.Event()

    def late_writer():
        with transaction.atomic():
            event = AuditEvent.objects.create(
                actor_label="system:test", verb="version.registered", object_type="t", object_id="1"
            )
            inserted.set()
            release.wait(timeout=30)
        return event.pk

    results: list = []
    thread = _in_thread(late_writer, results)
    assert inserted.wait(timeout=10)
    (later,) = add_events(1)  # committed now, with a higher id than the late row

    first = audit_log_seal()
    release.set()
    thread.join(timeout=30)
    (late_pk,) = results
    second = audit_log_seal()

    assert late_pk < later.pk
    assert LogLeaf.objects.filter(table="audit_auditevent", row_pk=later.pk).exists()
    late_leaf = LogLeaf.objects.get(table="audit_auditevent", row_pk=late_pk)
    assert (first.sealed, second.sealed) == (first.sealed, 1)
    assert late_leaf.leaf_index == second.tree_size - 1
    assert unsealed_count() == 0
    assert verify_audit_log().ok
