"""RFC 6962 hashing and RFC 9162 proofs, against a naive implementation written here."""

from __future__ import annotations

import hashlib

import pytest

from audit.transparency.merkle import (
    CompactRange,
    MerkleLevels,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

SIZES = range(1, 65)


def naive_root(data: list[bytes]) -> bytes:
    """MTH straight from RFC 6962 §2.1, recursing over the data itself."""
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < len(data):
        k *= 2
    return hashlib.sha256(b"\x01" + naive_root(data[:k]) + naive_root(data[k:])).digest()


def entries(count: int) -> list[bytes]:
    return [f"entry {number}".encode() for number in range(count)]


def tree(count: int) -> MerkleLevels:
    return MerkleLevels(leaf_hash(entry) for entry in entries(count))


def test_known_vectors_of_the_empty_tree_and_one_leaf():
    # RFC 6962 test vectors (as used by Certificate Transparency implementations).
    assert MerkleLevels().root(0).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert MerkleLevels([leaf_hash(b"")]).root(1).hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


@pytest.mark.parametrize("size", SIZES)
def test_the_root_equals_the_naive_root_for_levels_and_compact_ranges(size):
    compact = CompactRange()
    for entry in entries(size):
        compact.append(leaf_hash(entry))
    assert tree(size).root(size) == naive_root(entries(size)) == compact.root()


@pytest.mark.parametrize("size", SIZES)
def test_every_inclusion_proof_verifies_and_fails_when_tampered(size):
    levels = tree(size)
    root = levels.root(size)
    for index, entry in enumerate(entries(size)):
        proof = levels.inclusion_proof(index, size)
        assert verify_inclusion(leaf_hash(entry), index, size, proof, root)
        assert not verify_inclusion(leaf_hash(entry + b"!"), index, size, proof, root)
        if size > 1:
            assert not verify_inclusion(leaf_hash(entry), (index + 1) % size, size, proof, root)
        for position in range(len(proof)):
            bent = list(proof)
            bent[position] = hashlib.sha256(bent[position]).digest()
            assert not verify_inclusion(leaf_hash(entry), index, size, bent, root)


@pytest.mark.parametrize("size", SIZES)
def test_every_consistency_proof_verifies_and_fails_when_tampered(size):
    levels = tree(size)
    new_root = levels.root(size)
    for old in range(1, size + 1):
        old_root = levels.root(old)
        proof = levels.consistency_proof(old, size)
        assert verify_consistency(old, size, old_root, new_root, proof)
        if old < size:
            assert not verify_consistency(
                old, size, hashlib.sha256(old_root).digest(), new_root, proof
            )
            assert not verify_consistency(
                old, size, old_root, hashlib.sha256(new_root).digest(), proof
            )
            for position in range(len(proof)):
                bent = list(proof)
                bent[position] = hashlib.sha256(bent[position]).digest()
                assert not verify_consistency(old, size, old_root, new_root, bent)


def test_a_proof_outside_the_tree_is_refused():
    levels = tree(4)
    with pytest.raises(ValueError, match="not in a tree of size 4"):
        levels.inclusion_proof(4, 4)
    with pytest.raises(ValueError, match="the log has 4 leaves, not 5"):
        levels.root(5)
