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
from array import array
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from audit.models import LogLeaf, SignedTreeHead
from audit.transparency.merkle import BLOCK_LEAVES, BlockedTree
from audit.transparency.publication import tree_head_of
from audit.transparency.sources import canonical_rows, model_for_table
from core.signing_key import signing_public_key_bytes

BUNDLE_FORMAT = "govboard-audit-bundle/1"
#: Rows looked up per query.
CHUNK = 5_000
#: Rows a ProofStream proves per chunk: what it holds at once (their canonical texts and
#: proofs, a few kilobytes a row).
PROOF_CHUNK = 1_000
#: Leaves per block of the tree the proofs are taken from (module-level for the tests).
PROOF_BLOCK_LEAVES = BLOCK_LEAVES


def proof_bundle(rows: list[tuple[str, str]]) -> dict[str, Any]:
    """A JSON-serialisable bundle proving each (table, pk) against the latest signed head;
    rows not covered by it are listed under "unsealed". Unknown tables or rows: ValueError.
    Held whole in memory: a large export streams ``ProofStream`` instead."""
    stream = ProofStream(rows)
    entries = list(stream.entries())
    return {
        "format": BUNDLE_FORMAT,
        "tree_head": stream.tree_head,
        "entries": entries,
        "unsealed": list(stream.unsealed()),
    }


class ProofStream:
    """The bundle of ``rows`` piece by piece, in bounded memory: ``tree_head`` at once,
    ``entries()`` computed ``PROOF_CHUNK`` rows at a time as they are read from ``rows`` (any
    iterable, read once), then ``unsealed()``. Per chunk: one query for the leaf indexes
    and one per table for the canonical texts; the proofs come from a ``BlockedTree``
    (the nodes above blocks of leaves, and two blocks). Between chunks nothing is kept but
    the tree and the rows not sealed yet (eight bytes each; normally the few the seal job
    has not reached)."""

    def __init__(self, rows: Iterable[tuple[str, str]]) -> None:
        head = SignedTreeHead.objects.order_by("-tree_size").first()
        self.tree_head = _tree_head(head)
        self.size = head.tree_size if head else 0
        self._rows = iter(rows)
        self._tree: BlockedTree | None = None
        self._unsealed: list[tuple[str, array]] = []

    def entries(self) -> Iterator[dict[str, Any]]:
        """The proven rows, in the order given; each chunk is proven in leaf order (each
        block of leaves read once) and yielded in the order given."""
        while chunk := list(islice(self._rows, PROOF_CHUNK)):
            wanted = [(table, _parse_pk(table, pk)) for table, pk in chunk]
            canonical = _canonical_texts(wanted)
            leaves = _leaf_indexes(wanted, self.size)
            proofs = {}
            for index in sorted(leaves.values()):
                proofs[index] = [node.hex() for node in self.tree.inclusion_proof(index, self.size)]
            for table, pk in wanted:
                index = leaves.get((table, pk))
                if index is None:
                    self._note_unsealed(table, pk)
                    continue
                yield {
                    "table": table,
                    "pk": str(pk),
                    "leaf_index": index,
                    "canonical": canonical[(table, pk)],
                    "inclusion_proof": proofs[index],
                }

    def unsealed(self) -> Iterator[dict[str, str]]:
        """The rows the head does not cover, in the order given (once ``entries()`` ran)."""
        for table, pks in self._unsealed:
            for pk in pks:
                yield {"table": table, "pk": str(pk)}

    @property
    def tree(self) -> BlockedTree:
        if self._tree is None:
            self._tree = _blocked_tree(self.size)
        return self._tree

    def _note_unsealed(self, table: str, pk: int) -> None:
        if not self._unsealed or self._unsealed[-1][0] != table:
            self._unsealed.append((table, array("q")))
        self._unsealed[-1][1].append(pk)


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


def _blocked_tree(size: int) -> BlockedTree:
    """The tree at ``size`` for proofs: one pass over its leaf hashes (read in chunks)."""
    leaves = LogLeaf.objects.filter(leaf_index__lt=size).order_by("leaf_index")
    hashes = leaves.values_list("leaf_hash", flat=True).iterator(CHUNK)
    chunks = (
        bytes.fromhex("".join(batch)) for batch in iter(lambda: list(islice(hashes, CHUNK)), [])
    )
    return BlockedTree.from_leaf_chunks(size, chunks, _read_block, block_leaves=PROOF_BLOCK_LEAVES)


def _read_block(start: int, end: int) -> bytearray:
    leaves = LogLeaf.objects.filter(leaf_index__gte=start, leaf_index__lt=end)
    return bytearray.fromhex(
        "".join(leaves.order_by("leaf_index").values_list("leaf_hash", flat=True))
    )


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
