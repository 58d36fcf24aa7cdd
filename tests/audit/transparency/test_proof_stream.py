"""Proofs streamed chunk by chunk (ProofStream): the same bundle as proof_bundle, read
from its rows a chunk at a time, from a tree that keeps only the nodes above its blocks
and two blocks; so a JSON export's proofs do not grow its memory with its size."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.services import audit_log_seal
from audit.transparency import bundle as bundle_module
from audit.transparency.bundle import ProofStream, proof_bundle
from tests.audit.transparency.conftest import add_events

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TABLE = "audit_auditevent"
VERIFIER = Path(__file__).resolve().parents[3] / "tools" / "verify_audit_export.py"


def verify(document: dict) -> str:
    """The standalone verifier's answer (loaded from its file: it is a script)."""
    spec = importlib.util.spec_from_file_location("verify_audit_export", VERIFIER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.verify(document)


class Counted:
    """An iterator over rows that counts how many were taken from it."""

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        self._rows = iter(rows)
        self.taken = 0

    def __iter__(self) -> Counted:
        return self

    def __next__(self) -> tuple[str, str]:
        row = next(self._rows)
        self.taken += 1
        return row


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(bundle_module, "PROOF_CHUNK", 3)
    monkeypatch.setattr(bundle_module, "PROOF_BLOCK_LEAVES", 4)


@pytest.fixture
def sealed_log(heads_dir, django_capture_on_commit_callbacks):
    """37 sealed events (nine whole blocks of four and one leaf more) and two unsealed."""
    events = add_events(37)
    with django_capture_on_commit_callbacks(execute=True):
        audit_log_seal(now=NOW)
    return events, add_events(2)


def test_the_stream_reads_its_rows_a_chunk_at_a_time_and_holds_two_blocks(small_chunks, sealed_log):
    # Given every sealed event cited (in an order that jumps between blocks) and two not
    events, unsealed = sealed_log
    cited = [(TABLE, str(event.pk)) for event in [*events[::2], *events[1::2], *unsealed]]
    rows = Counted(cited)
    stream = ProofStream(rows)

    # When the entries are taken one by one
    entries = []
    for entry in stream.entries():
        # Then no more than one chunk of rows was read ahead of what was yielded (the
        # unsealed ones wait for unsealed()), and the tree holds at most two blocks
        assert rows.taken - len(entries) <= bundle_module.PROOF_CHUNK
        assert len(stream.tree.blocks) <= 2
        entries.append(entry)

    # And the tree kept only the roots of its nine whole blocks, and the result is the
    # bundle proof_bundle builds whole, in the order cited
    assert len(stream.tree.top.levels[0]) == 9 * 32
    assert [entry["pk"] for entry in entries] == [pk for _table, pk in cited[:37]]
    assert list(stream.unsealed()) == [{"table": TABLE, "pk": str(e.pk)} for e in unsealed]
    whole = proof_bundle(cited)
    assert whole["entries"] == entries
    assert verify(whole).startswith("verified 37 entries against tree head size 37")


def test_proofs_from_blocks_equal_those_of_the_default_tree(sealed_log, monkeypatch):
    # Given the bundle taken with the default (one block) and with blocks of two leaves
    events, _unsealed = sealed_log
    cited = [(TABLE, str(event.pk)) for event in events]
    default = proof_bundle(cited)
    monkeypatch.setattr(bundle_module, "PROOF_BLOCK_LEAVES", 2)

    # When it is taken again from the smaller blocks
    blocked = proof_bundle(cited)

    # Then every proof is the same and all verify
    assert blocked == default
    assert verify(blocked).startswith("verified 37 entries")


def test_before_any_seal_every_row_is_unsealed_and_no_tree_is_read(small_chunks, db):
    # Given events but no signed head
    events = add_events(5)
    stream = ProofStream([(TABLE, str(event.pk)) for event in events])

    # When the stream is read
    entries = list(stream.entries())

    # Then nothing is proven, every row is listed as unsealed, and no tree was built
    assert entries == [] and stream.tree_head is None
    assert [row["pk"] for row in stream.unsealed()] == [str(event.pk) for event in events]
    assert stream._tree is None


def test_an_unknown_table_in_a_later_chunk_is_refused_when_that_chunk_is_read(small_chunks, db):
    events = add_events(4)
    rows = [(TABLE, str(event.pk)) for event in events] + [("registry_team", "1")]
    stream = ProofStream(rows)

    entries = stream.entries()

    with pytest.raises(ValueError, match="'registry_team' is not a table the audit log seals"):
        list(entries)
