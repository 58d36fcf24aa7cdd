"""Proof bundles: chosen audit rows with inclusion proofs against the latest signed head.

The contract reports and the standalone verifier (tools/verify_audit_export.py) share::

    {"format": "govboard-audit-bundle/1",
     "tree_head": {"size", "root_hash" (hex), "timestamp", "key_id",
                   "signature" (base64), "public_key" (base64 raw Ed25519)},
     "entries": [{"table", "pk", "leaf_index", "canonical", "inclusion_proof": [hex...]}],
     "unsealed": [{"table", "pk"}]}

``canonical`` is the row's canonical text as it is now: if the row was changed after it
was sealed, its leaf hash no longer matches and the bundle fails verification, as it must.
"""

from __future__ import annotations

import base64
from typing import Any

from audit.models import LogLeaf, SignedTreeHead
from audit.transparency.merkle import MerkleLevels
from audit.transparency.publication import tree_head_of
from audit.transparency.sources import canonical_rows, model_for_table
from core.signing_key import signing_public_key_bytes

BUNDLE_FORMAT = "govboard-audit-bundle/1"
CHUNK = 5_000


def proof_bundle(rows: list[tuple[str, str]]) -> dict[str, Any]:
    """A JSON-serialisable bundle proving each (table, pk) against the latest signed head;
    rows not covered by it are listed under "unsealed". Unknown tables or rows: ValueError."""
    wanted = [(table, _parse_pk(table, pk)) for table, pk in rows]
    canonical = _canonical_texts(wanted)
    head = SignedTreeHead.objects.order_by("-tree_size").first()
    size = head.tree_size if head else 0
    leaves = _leaf_indexes(wanted, size)
    levels = _levels(size) if leaves else None
    entries, unsealed = [], []
    for table, pk in wanted:
        index = leaves.get((table, pk))
        if index is None:
            unsealed.append({"table": table, "pk": str(pk)})
            continue
        entries.append(
            {
                "table": table,
                "pk": str(pk),
                "leaf_index": index,
                "canonical": canonical[(table, pk)],
                "inclusion_proof": [node.hex() for node in levels.inclusion_proof(index, size)],
            }
        )
    return {
        "format": BUNDLE_FORMAT,
        "tree_head": _tree_head(head),
        "entries": entries,
        "unsealed": unsealed,
    }


def _parse_pk(table: str, pk: str) -> int:
    if model_for_table(table) is None:
        raise ValueError(f"{table!r} is not a table the audit log seals")
    try:
        return int(pk)
    except (TypeError, ValueError):
        raise ValueError(f"{pk!r} is not a primary key of {table}") from None


def _leaf_indexes(wanted: list[tuple[str, int]], size: int) -> dict[tuple[str, int], int]:
    """(table, pk) -> leaf index of the wanted rows the head of ``size`` covers."""
    by_table: dict[str, list[int]] = {}
    for table, pk in wanted:
        by_table.setdefault(table, []).append(pk)
    found = {}
    for table, pks in by_table.items():
        for start in range(0, len(pks), CHUNK):
            leaves = LogLeaf.objects.filter(
                table=table, row_pk__in=pks[start : start + CHUNK], leaf_index__lt=size
            )
            for pk, index in leaves.values_list("row_pk", "leaf_index"):
                found[(table, pk)] = index
    return found


def _canonical_texts(wanted: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    by_table: dict[str, list[int]] = {}
    for table, pk in wanted:
        by_table.setdefault(table, []).append(pk)
    texts = {}
    for table, pks in by_table.items():
        model = model_for_table(table)
        for start in range(0, len(pks), CHUNK):
            rows = model._base_manager.filter(pk__in=pks[start : start + CHUNK])
            for pk, canonical in canonical_rows(model, rows):
                texts[(table, pk)] = canonical.decode("utf-8")
    missing = [f"{table} pk {pk}" for table, pk in wanted if (table, pk) not in texts]
    if missing:
        raise ValueError(f"no such audit rows: {', '.join(missing)}")
    return texts


def _levels(size: int) -> MerkleLevels:
    hashes = bytearray()
    leaves = LogLeaf.objects.filter(leaf_index__lt=size).order_by("leaf_index")
    for hashed in leaves.values_list("leaf_hash", flat=True).iterator(CHUNK):
        hashes += bytes.fromhex(hashed)
    return MerkleLevels.from_concatenated(hashes)


def _tree_head(head: SignedTreeHead | None) -> dict[str, Any] | None:
    if head is None:
        return None
    claimed = tree_head_of(head)
    return {
        "size": claimed.tree_size,
        "root_hash": claimed.root_hash,
        "timestamp": claimed.timestamp,
        "key_id": claimed.key_id,
        "signature": claimed.signature,
        "public_key": base64.b64encode(signing_public_key_bytes()).decode("ascii"),
    }
