"""AUD-3: random single tamperings of a sealed log are all detected, the first broken record
named, and the untampered log passes. The mutations run against the verifier's in-memory
function over rows read once (GOVBOARD_AUD3_MUTATIONS, default 1,000); a handful go through
the real database with the triggers lifted."""

from __future__ import annotations

import copy
import os
import random
import time
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit.models import AuditEvent, LogLeaf
from audit.services import audit_log_seal
from audit.transparency.canonical import canonical_row
from audit.transparency.leaves import SealedLeaf, chain_next
from audit.transparency.merkle import leaf_hash
from audit.transparency.verification import verify_log
from core.signing_key import signing_key_id, signing_public_key_raw
from tests.audit.transparency.conftest import add_events
from tests.audit.transparency.tampering import SealedLog, read_sealed_log, triggers_lifted
from tests.registry.factories import TeamFactory

MUTATIONS = int(os.environ.get("GOVBOARD_AUD3_MUTATIONS", "1000"))
PK_COLUMNS = {"id", "history_id"}


@pytest.fixture
def sealed(db, heads_dir, django_capture_on_commit_callbacks) -> SealedLog:
    """A log sealed in three runs (three heads, inside and outside the database)."""
    for run in range(3):
        add_events(25)
        TeamFactory.create_batch(3)
        with django_capture_on_commit_callbacks(execute=True):
            audit_log_seal(now=datetime(2026, 12, 1, 12, run, tzinfo=UTC))
    return read_sealed_log()


def _row_hash(table: str, pk: int, columns: dict) -> bytes:
    return leaf_hash(canonical_row(table, pk, columns))


def verify(log: SealedLog, leaves: list[SealedLeaf], rows: dict):
    """The verifier's own function; rows the mutation left alone keep their hash from the
    one reading (recomputing 84 canonical rows a mutation is what the DB test does)."""
    if not hasattr(log, "hashes"):
        log.hashes = {key: _row_hash(*key, columns) for key, columns in log.rows.items()}

    def stream():
        for leaf in leaves:
            key = (leaf.table, leaf.pk)
            columns = rows.get(key)
            if columns is None:
                yield leaf, None
            elif columns is log.rows.get(key):
                yield leaf, log.hashes[key]
            else:
                yield leaf, _row_hash(leaf.table, leaf.pk, columns)

    return verify_log(
        stream,
        stored_heads=log.stored_heads,
        external_heads=log.external_heads,
        public_key=signing_public_key_raw(),
        key_id=signing_key_id(),
    )


def _edited(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, dict):
        return {**value, "tampered": True}
    if value is None:
        return "x"
    return str(value) + "x"


def mutate(log: SealedLog, rng: random.Random):
    """One random tampering: (kind, mutated leaves, mutated rows, the leaf that must be named)."""
    leaves, rows = list(log.leaves), copy.copy(log.rows)
    size = len(leaves)
    kind = rng.choice(
        ["edit", "delete row", "swap rows", "insert", "truncate leaves", "truncate rows",
         "reorder", "delete leaf"]
    )  # fmt: skip
    if kind == "edit":
        i = rng.randrange(size)
        key = (leaves[i].table, leaves[i].pk)
        columns = dict(rows[key])
        column = rng.choice([c for c in columns if c not in PK_COLUMNS])
        columns[column] = _edited(columns[column])
        rows[key] = columns
        return kind, leaves, rows, i
    if kind == "delete row":
        i = rng.randrange(size)
        del rows[(leaves[i].table, leaves[i].pk)]
        return kind, leaves, rows, i
    if kind == "swap rows":
        while True:
            i, j = sorted(rng.sample(range(size), 2))
            a, b = leaves[i], leaves[j]
            if a.table != b.table:
                continue
            ra, rb = rows[(a.table, a.pk)], rows[(b.table, b.pk)]
            body = {c: v for c, v in ra.items() if c not in PK_COLUMNS}
            other = {c: v for c, v in rb.items() if c not in PK_COLUMNS}
            if body != other:
                break
        rows[(a.table, a.pk)] = {**ra, **other}
        rows[(b.table, b.pk)] = {**rb, **body}
        return kind, leaves, rows, i
    if kind == "insert":
        p = rng.randrange(1, size)
        donor = leaves[rng.randrange(size)]
        forged_pk = 10**9 + p
        columns = {**rows[(donor.table, donor.pk)], "data": {"forged": True}}
        rows[(donor.table, forged_pk)] = columns
        hashed = leaf_hash(canonical_row(donor.table, forged_pk, columns))
        # A careful forger chains the new leaf to its predecessor; a naive one does not.
        chain = chain_next(leaves[p - 1].chain_hash, hashed) if rng.random() < 0.5 else hashed
        forged = SealedLeaf(p, donor.table, forged_pk, hashed, chain)
        shifted = [
            SealedLeaf(x.leaf_index + 1, x.table, x.pk, x.leaf_hash, x.chain_hash)
            for x in leaves[p:]
        ]
        return kind, [*leaves[:p], forged, *shifted], rows, p
    if kind == "truncate leaves":
        k = rng.randrange(1, size)
        return kind, leaves[:k], rows, k
    if kind == "truncate rows":
        k = rng.randrange(1, size)
        for leaf in leaves[k:]:
            del rows[(leaf.table, leaf.pk)]
        return kind, leaves, rows, k
    if kind == "reorder":
        i, j = sorted(rng.sample(range(size), 2))
        a, b = leaves[i], leaves[j]
        leaves[i] = SealedLeaf(i, b.table, b.pk, b.leaf_hash, b.chain_hash)
        leaves[j] = SealedLeaf(j, a.table, a.pk, a.leaf_hash, a.chain_hash)
        return kind, leaves, rows, i
    i = rng.randrange(size - 1)
    return "delete leaf", leaves[:i] + leaves[i + 1 :], rows, i


def test_the_untampered_log_verifies(sealed):
    report = verify(sealed, sealed.leaves, sealed.rows)
    assert report.ok, report.findings
    assert report.leaves == len(sealed.leaves) and report.heads == report.external_heads == 3


def test_every_random_single_tampering_is_detected_and_the_first_broken_record_named(sealed):
    rng = random.Random(20261201)
    missed, misnamed, kinds = [], [], {}
    started = time.perf_counter()
    for _ in range(MUTATIONS):
        kind, leaves, rows, expected = mutate(sealed, rng)
        kinds[kind] = kinds.get(kind, 0) + 1
        report = verify(sealed, leaves, rows)
        if report.ok:
            missed.append(kind)
        elif report.first.leaf_index != expected:
            misnamed.append((kind, expected, str(report.first)))
    elapsed = time.perf_counter() - started
    print(
        f"\nAUD-3: {MUTATIONS} tamperings of a {len(sealed.leaves)}-leaf log "
        f"({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}): "
        f"{MUTATIONS - len(missed)} detected, {MUTATIONS - len(missed) - len(misnamed)} with the "
        f"first broken record named, in {elapsed:.1f} s"
    )
    assert missed == []
    assert misnamed == []


def _verify_command() -> str:
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit")
    return str(failure.value)


def test_verify_audit_exits_zero_on_the_untampered_log(sealed, capsys):
    call_command("verify_audit")
    assert capsys.readouterr().out.startswith(f"OK: {len(sealed.leaves)} rows verified")


def test_an_audit_row_edited_in_the_database_is_named(sealed):
    event = AuditEvent.objects.order_by("id")[3]
    index = LogLeaf.objects.get(table="audit_auditevent", row_pk=event.pk).leaf_index
    with triggers_lifted(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET verb = 'version.approved' WHERE id = %s", [event.pk]
        )
        message = _verify_command()
    assert message.startswith(
        f"first broken record: altered: leaf {index} (audit_auditevent pk {event.pk})"
    )


def test_a_history_row_deleted_in_the_database_is_named(sealed):
    leaf = LogLeaf.objects.filter(table="registry_historicalteam").order_by("leaf_index")[1]
    with triggers_lifted(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM registry_historicalteam WHERE history_id = %s", [leaf.row_pk])
        message = _verify_command()
    assert f"missing: leaf {leaf.leaf_index} (registry_historicalteam pk {leaf.row_pk})" in message


def test_two_leaves_swapped_in_the_database_are_named(sealed):
    first, second = (
        LogLeaf.objects.order_by("leaf_index")[5],
        LogLeaf.objects.order_by("leaf_index")[9],
    )
    with triggers_lifted():
        LogLeaf.objects.filter(pk=first.pk).update(leaf_index=-1)
        LogLeaf.objects.filter(pk=second.pk).update(leaf_index=5)
        LogLeaf.objects.filter(pk=first.pk).update(leaf_index=9)
        message = _verify_command()
    assert f"reordered: leaf 5 ({second.table} pk {second.row_pk})" in message


def test_a_truncated_tail_in_the_database_is_named(sealed):
    with triggers_lifted():
        LogLeaf.objects.filter(leaf_index__gte=40).delete()
        message = _verify_command()
    assert message.startswith("first broken record: truncated: leaf 40: the stored head")
    assert "covers leaves the log no longer has" in message
