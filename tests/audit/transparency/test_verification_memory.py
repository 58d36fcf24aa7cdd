"""verify_audit folds the tree as the leaves stream past (a compact range), so its memory
does not grow with the log: it holds log2(n) hashes, not the 64 bytes a leaf of every
tree level."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.transparency.leaves import CHAIN_START, SealedLeaf, chain_next
from audit.transparency.merkle import MerkleLevels, leaf_hash
from audit.transparency.verification import verify_log

LEAVES = 50_000


def clean_log() -> Iterator[tuple[SealedLeaf, bytes]]:
    """A sealed log of LEAVES audit events, generated as it is read (nothing kept)."""
    chain = CHAIN_START
    for index in range(LEAVES):
        hashed = leaf_hash(f"event {index}".encode())
        chain = chain_next(chain, hashed)
        yield SealedLeaf(index, "audit_auditevent", index + 1, hashed, chain), hashed


def test_verifying_a_long_log_holds_a_compact_range_not_the_tree():
    # Given a clean log of 50,000 leaves streamed to the verifier
    key = Ed25519PrivateKey.generate().public_key()

    # When it is verified under tracemalloc
    tracemalloc.start()
    try:
        report = verify_log(
            clean_log, stored_heads=[], external_heads=[], public_key=key, key_id="k"
        )
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Then it passes with the whole tree's root, and its peak allocation stays far below
    # the 3.2 MB the leaf hashes alone would take (6.4 MB with the levels above them)
    whole = MerkleLevels(leaf_hash(f"event {index}".encode()) for index in range(LEAVES))
    assert report.ok and report.leaves == report.tree_size == LEAVES
    assert report.root_hash == whole.root(LEAVES).hex()
    assert peak < 256 * 1024
