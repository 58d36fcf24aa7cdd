"""The seal job: leaves for every committed audit row not sealed yet, and a signed head."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit.models import LogLeaf, SignedTreeHead
from audit.services import audit_log_seal
from audit.transparency.database import unsealed_count, verify_audit_log
from audit.transparency.sources import sealed_models
from tests.audit.transparency.conftest import add_events
from tests.registry.factories import TeamFactory

NOW = datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC)
LATER = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)


def test_the_sealed_tables_are_the_audit_log_and_every_history_table():
    tables = list(sealed_models())
    assert "audit_auditevent" in tables
    assert "registry_historicalteam" in tables
    assert all(t == "audit_auditevent" or "historical" in t for t in tables)
    assert tables == sorted(tables)


@pytest.mark.django_db
def test_sealing_appends_every_unsealed_row_and_signs_one_head(
    heads_dir, django_capture_on_commit_callbacks
):
    add_events(5)
    TeamFactory()
    rows = unsealed_count()

    with django_capture_on_commit_callbacks(execute=True):
        result = audit_log_seal(now=NOW)

    assert result.sealed == rows and result.tree_size == rows
    assert unsealed_count() == 0
    assert list(LogLeaf.objects.values_list("leaf_index", flat=True)) == list(range(rows))
    head = SignedTreeHead.objects.get()
    assert (head.tree_size, head.signed_at) == (rows, NOW)
    assert sorted(path.name for path in heads_dir.iterdir()) == [f"{rows:020d}.json"]
    assert verify_audit_log().ok


@pytest.mark.django_db
def test_a_second_run_with_nothing_new_adds_nothing(heads_dir, django_capture_on_commit_callbacks):
    add_events(3)
    with django_capture_on_commit_callbacks(execute=True):
        audit_log_seal(now=NOW)
    leaves, heads = LogLeaf.objects.count(), list(SignedTreeHead.objects.values())
    files = sorted(heads_dir.iterdir())

    with django_capture_on_commit_callbacks(execute=True):
        result = audit_log_seal(now=LATER)

    assert (result.sealed, result.head) == (0, None)
    assert LogLeaf.objects.count() == leaves
    assert list(SignedTreeHead.objects.values()) == heads
    assert sorted(heads_dir.iterdir()) == files


@pytest.mark.django_db
def test_new_rows_extend_the_tree_from_the_cached_compact_range(
    heads_dir, django_capture_on_commit_callbacks
):
    add_events(7)
    with django_capture_on_commit_callbacks(execute=True):
        first = audit_log_seal(now=NOW)
    add_events(6)
    with django_capture_on_commit_callbacks(execute=True):
        second = audit_log_seal(now=LATER)

    assert second.tree_size == first.tree_size + 6
    assert SignedTreeHead.objects.count() == 2
    report = verify_audit_log()
    assert report.ok, report.findings
    assert (report.heads, report.external_heads) == (2, 2)


@pytest.mark.django_db
def test_a_limit_seals_part_and_the_next_run_the_rest(
    heads_dir, django_capture_on_commit_callbacks
):
    add_events(10)
    total = unsealed_count()
    with django_capture_on_commit_callbacks(execute=True):
        assert audit_log_seal(now=NOW, limit=4).sealed == 4
        assert audit_log_seal(now=LATER, limit=total).sealed == total - 4
    assert unsealed_count() == 0
    assert verify_audit_log().ok


@pytest.mark.django_db
def test_a_limit_below_one_is_refused_and_nothing_is_sealed(heads_dir):
    add_events(2)
    with pytest.raises(ValueError, match="limit must be at least 1"):
        audit_log_seal(now=NOW, limit=0)
    assert LogLeaf.objects.count() == 0
    assert SignedTreeHead.objects.count() == 0


@pytest.mark.django_db
def test_the_command_and_the_beat_task_run_the_same_seal(heads_dir, settings, capsys):
    from django.core.management import call_command

    from audit.tasks import seal_audit_log

    add_events(2)
    rows = unsealed_count()
    call_command("seal_audit")
    assert capsys.readouterr().out.startswith(f"sealed {rows} rows; tree size {rows}, signed head")
    assert seal_audit_log() == 0
    assert settings.CELERY_BEAT_SCHEDULE["seal-audit-log"]["task"] == seal_audit_log.name
