"""Verifying the log: the pure half, over leaves and row hashes already read.

``verify_log`` takes the stored leaves in stored order, each with the leaf hash of its row
as the row is now (None when the row is gone), the tree heads stored in the database and
those kept outside it, and the server's public key. It names the first broken record:
a row altered or missing, a leaf missing from the index sequence, a leaf reordered or
inserted (the chain breaks), a head whose root, signature or size does not hold, an
external head the database disagrees with, consecutive heads that are not consistent.
``verify_audit`` feeds it from the database; the AUD-3 test feeds it from memory.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.transparency.heads import TreeHead
from audit.transparency.leaves import CHAIN_START, SealedLeaf, chain_next
from audit.transparency.merkle import CompactRange

LeafStream = Callable[[], Iterator[tuple[SealedLeaf, bytes | None]]]


@dataclass(frozen=True)
class Finding:
    kind: str
    message: str
    leaf_index: int | None = None
    table: str | None = None
    pk: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.leaf_index is not None:
            where = f"leaf {self.leaf_index}"
            if self.table is not None:
                where += f" ({self.table} pk {self.pk})"
            where += ": "
        return f"{self.kind}: {where}{self.message}"


@dataclass
class VerificationReport:
    leaves: int = 0
    heads: int = 0
    external_heads: int = 0
    tree_size: int = 0
    root_hash: str = ""
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None


def verify_log(
    leaf_stream: LeafStream,
    *,
    stored_heads: Iterable[TreeHead],
    external_heads: Iterable[TreeHead],
    public_key: Ed25519PublicKey,
    key_id: str,
) -> VerificationReport:
    started = time.perf_counter()
    report = VerificationReport()
    stored = sorted(stored_heads, key=lambda head: head.tree_size)
    external = sorted(external_heads, key=lambda head: head.tree_size)
    report.heads, report.external_heads = len(stored), len(external)
    wanted = {head.tree_size for head in stored + external}
    leaf_findings, roots = _check_leaves(leaf_stream, report, wanted)
    if any(finding.kind in ("reordered or inserted",) for finding in leaf_findings):
        leaf_findings = _classify_chain_breaks(leaf_findings, leaf_stream)
    report.root_hash = roots[report.tree_size].hex()
    head_findings = _check_heads(roots, stored, external, public_key, key_id, report)
    report.findings = leaf_findings + head_findings
    report.seconds = time.perf_counter() - started
    return report


def _check_leaves(
    leaf_stream: LeafStream, report: VerificationReport, head_sizes: set[int]
) -> tuple[list[Finding], dict[int, bytes]]:
    """Every leaf against its row and the chain, in one pass; the tree over the stored
    leaves (in stored order) is folded as they pass (a compact range: log2(n) hashes, not
    the whole tree), its root taken at each head's size and at the end."""
    findings: list[Finding] = []
    tree = CompactRange()
    roots = {0: tree.root()}
    expected_index, expected_chain = 0, CHAIN_START
    for leaf, current in leaf_stream():
        report.leaves += 1
        tree.append(leaf.leaf_hash)
        if tree.size in head_sizes:
            roots[tree.size] = tree.root()
        after_gap = leaf.leaf_index != expected_index
        if after_gap:
            findings.append(
                Finding(
                    "missing",
                    f"leaf {expected_index} is gone from the log (the next is {leaf.leaf_index})"
                    if leaf.leaf_index > expected_index
                    else f"leaf index {leaf.leaf_index} appears twice or out of order",
                    expected_index,
                )
            )
            # The hashes list keeps the stored order; heads then disagree from here on.
        expected_index = leaf.leaf_index + 1
        if current is None:
            findings.append(_at(leaf, "missing", "the sealed row is gone"))
        elif current != leaf.leaf_hash:
            findings.append(
                _at(leaf, "altered", "the row no longer has the hash it was sealed with")
            )
        chained = chain_next(expected_chain, leaf.leaf_hash)
        if (
            chained != leaf.chain_hash
            and not after_gap
            and not (findings and findings[-1].leaf_index == leaf.leaf_index)
        ):
            findings.append(
                _at(
                    leaf, "reordered or inserted", "the leaf was not sealed after the one before it"
                )
            )
        # Resynchronise on the stored chain so one tampering is reported once, not cascaded.
        expected_chain = leaf.chain_hash
    report.tree_size = tree.size
    roots[tree.size] = tree.root()
    return findings, roots


def _classify_chain_breaks(findings: list[Finding], leaf_stream: LeafStream) -> list[Finding]:
    """Second pass, only when the chain broke: a leaf whose chain follows from some other
    stored leaf was moved (reordered); a break right after a leaf that itself follows from
    the leaf two back means that leaf was inserted."""
    breaks = {f.leaf_index for f in findings if f.kind == "reordered or inserted"}
    chains: dict[bytes, SealedLeaf] = {}
    window: list[SealedLeaf] = []
    at_break: dict[int, tuple[SealedLeaf, list[SealedLeaf]]] = {}
    for leaf, _current in leaf_stream():
        chains[leaf.chain_hash] = leaf
        if leaf.leaf_index in breaks:
            at_break[leaf.leaf_index] = (leaf, list(window))
        window = [*window[-1:], leaf]
    classified = []
    for finding in findings:
        if finding.kind != "reordered or inserted":
            classified.append(finding)
            continue
        leaf, before = at_break[finding.leaf_index]
        if len(before) == 2 and chain_next(before[0].chain_hash, leaf.leaf_hash) == leaf.chain_hash:
            inserted = before[1]
            classified.append(_at(inserted, "inserted", "this leaf was not sealed here"))
        elif any(chain_next(chain, leaf.leaf_hash) == leaf.chain_hash for chain in chains):
            classified.append(_at(leaf, "reordered", "the leaf was sealed at another position"))
        else:
            classified.append(_at(leaf, "inserted", "no sealed leaf precedes this one"))
    return classified


def _check_heads(
    roots: dict[int, bytes],
    stored: list[TreeHead],
    external: list[TreeHead],
    public_key: Ed25519PublicKey,
    key_id: str,
    report: VerificationReport,
) -> list[Finding]:
    findings: list[Finding] = []
    stored_by_size = {head.tree_size: head for head in stored}
    for origin, heads in (("stored", stored), ("external", external)):
        for head in heads:
            findings.extend(_check_one_head(origin, head, roots, public_key, key_id, report))
    for head in external:
        twin = stored_by_size.get(head.tree_size)
        if twin is None:
            findings.append(_head("deleted", head, "the database has no head of this size"))
        elif twin != head:
            findings.append(_head("rewritten", head, "the database's head of this size differs"))
    external_sizes = {head.tree_size for head in external}
    for head in stored:
        if head.tree_size not in external_sizes:
            report.warnings.append(
                f"head {head.tree_size} is not (yet) stored outside the database"
            )
    # Two heads are consistent (RFC 9162 §2.1.4) exactly when both roots are those of the
    # one log at their sizes: a consistency proof built from the log leads to its roots,
    # so comparing the roots answers what building and checking the proof would.
    claimed = sorted({(h.tree_size, h.root_hash) for h in stored + external})
    for (old_size, old_root), (new_size, new_root) in itertools.pairwise(claimed):
        if new_size > report.tree_size or old_size in (0, new_size):
            continue  # (an empty tree is consistent with every tree)
        if roots[old_size].hex() != old_root or roots[new_size].hex() != new_root:
            findings.append(
                Finding(
                    "inconsistent",
                    f"heads {old_size} and {new_size} are not consistent (RFC 9162 §2.1.4)",
                    old_size,
                )
            )
    return sorted(findings, key=lambda f: f.leaf_index if f.leaf_index is not None else 0)


def _check_one_head(
    origin: str,
    head: TreeHead,
    roots: dict[int, bytes],
    public_key: Ed25519PublicKey,
    key_id: str,
    report: VerificationReport,
) -> list[Finding]:
    findings = []
    if head.key_id != key_id or not head.signature_valid(public_key):
        findings.append(_head("forged", head, f"the {origin} head's signature is not the server's"))
    if head.tree_size > report.tree_size:
        findings.append(
            Finding(
                "truncated",
                f"the {origin} head {head.tree_size} covers leaves the log no longer has",
                report.tree_size,
            )
        )
    elif roots.get(head.tree_size, b"").hex() != head.root_hash:
        findings.append(
            _head("rewritten", head, f"the log recomputed differs from the {origin} head's root")
        )
    return findings


def _at(leaf: SealedLeaf, kind: str, message: str) -> Finding:
    return Finding(kind, message, leaf.leaf_index, leaf.table, leaf.pk)


def _head(kind: str, head: TreeHead, message: str) -> Finding:
    return Finding(kind, f"tree head {head.tree_size}: {message}", None)
