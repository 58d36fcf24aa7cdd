"""Verifying the log from the database and the external head store (``verify_audit``)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Exists, OuterRef

from audit.models import LogLeaf, SignedTreeHead
from audit.transparency.external import head_store
from audit.transparency.leaves import SealedLeaf
from audit.transparency.publication import tree_head_of
from audit.transparency.sources import current_leaf_hashes, model_for_table, sealed_models
from audit.transparency.verification import VerificationReport, verify_log
from core.signing_key import signing_key_id, signing_public_key_raw

CHUNK = 5_000


def stream_leaves() -> Iterator[tuple[SealedLeaf, bytes | None]]:
    """Every stored leaf in leaf-index order with its row's current hash, chunk by chunk
    (bounded memory: one chunk of rows at a time)."""
    fields = ("leaf_index", "table", "row_pk", "leaf_hash", "chain_hash")
    after = -1
    while True:
        chunk = list(
            LogLeaf.objects.filter(leaf_index__gt=after)
            .order_by("leaf_index")
            .values_list(*fields)[:CHUNK]
        )
        if not chunk:
            return
        by_table: dict[str, list[int]] = {}
        for _index, table, pk, _leaf, _chain in chunk:
            by_table.setdefault(table, []).append(pk)
        current: dict[tuple[str, int], bytes] = {}
        for table, pks in by_table.items():
            model = model_for_table(table)
            if model is not None:
                current.update(
                    ((table, pk), hashed) for pk, hashed in current_leaf_hashes(model, pks).items()
                )
        for index, table, pk, leaf, chain in chunk:
            sealed = SealedLeaf(index, table, pk, bytes.fromhex(leaf), bytes.fromhex(chain))
            yield sealed, current.get((table, pk))
        after = chunk[-1][0]


def unsealed_count() -> int:
    """Committed rows with no leaf yet (late commits and rows since the last run: normal)."""
    total = 0
    for table, model in sealed_models().items():
        sealed = LogLeaf.objects.filter(table=table, row_pk=OuterRef("pk"))
        total += model._base_manager.filter(~Exists(sealed)).count()
    return total


def verify_audit_log() -> VerificationReport:
    """Recompute every leaf from its row, the tree, every stored and external head and the
    consistency between consecutive heads."""
    report = verify_log(
        stream_leaves,
        stored_heads=[tree_head_of(row) for row in SignedTreeHead.objects.order_by("tree_size")],
        external_heads=head_store().read_all(),
        public_key=signing_public_key_raw(),
        key_id=signing_key_id(),
    )
    return report
