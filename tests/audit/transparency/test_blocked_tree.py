"""The bounded-memory tree gives the whole tree's proofs, reading one block at a time."""

from __future__ import annotations

import pytest

from audit.transparency.merkle import HASH_SIZE, BlockedTree, MerkleLevels, leaf_hash


def leaves(count: int) -> bytearray:
    hashes = bytearray()
    for number in range(count):
        hashes += leaf_hash(f"entry {number}".encode())
    return hashes


class Reader:
    """``read_block`` over a leaf array, recording every range it was asked for."""

    def __init__(self, hashes: bytearray) -> None:
        self.hashes = hashes
        self.reads: list[tuple[int, int]] = []

    def __call__(self, start: int, end: int) -> bytearray:
        self.reads.append((start, end))
        return self.hashes[start * HASH_SIZE : end * HASH_SIZE]


def blocked(size: int, block_leaves: int, reader: Reader) -> BlockedTree:
    chunks = (reader.hashes[offset : offset + 3 * HASH_SIZE] for offset in range(0, size * 32, 96))
    return BlockedTree.from_leaf_chunks(size, chunks, reader, block_leaves=block_leaves)


@pytest.mark.parametrize("block_leaves", [1, 2, 4, 8])
@pytest.mark.parametrize("size", range(1, 42))
def test_every_inclusion_proof_and_root_equal_the_whole_trees(size, block_leaves):
    # Given a log of ``size`` leaves, as one whole tree and as blocks
    hashes = leaves(size)
    whole = MerkleLevels.from_concatenated(bytearray(hashes))
    reader = Reader(hashes)
    tree = blocked(size, block_leaves, reader)

    # When every leaf's proof (and the root) is asked of both
    # Then they agree, and the blocked tree never held more than two blocks
    for index in range(size):
        assert tree.inclusion_proof(index, size) == whole.inclusion_proof(index, size)
        assert len(tree.blocks) <= 2
    assert tree.root(size) == whole.root(size)
    for old in range(size + 1):
        assert tree.consistency_proof(old, size) == whole.consistency_proof(old, size)
    assert all(end - start <= block_leaves for start, end in reader.reads)


def test_it_keeps_two_hashes_a_whole_block_and_reads_each_block_once_in_leaf_order():
    # Given 10,000 leaves in blocks of 64 (156 whole blocks and a partial one)
    size, block_leaves = 10_000, 64
    reader = Reader(leaves(size))
    tree = blocked(size, block_leaves, reader)

    # When proofs are asked in leaf order
    for index in range(0, size, 7):
        tree.inclusion_proof(index, size)

    # Then the nodes kept are those above the whole blocks, at most two blocks are held,
    # and each block was read once (the partial last one, a sibling of many, stays cached)
    assert len(tree.top.levels[0]) == size // block_leaves * HASH_SIZE
    assert sum(len(level) for level in tree.top.levels) < 2 * len(tree.top.levels[0])
    assert len(tree.blocks) <= 2
    assert len(reader.reads) == len(set(reader.reads)) == -(-size // block_leaves)


def test_leaves_missing_from_the_pass_or_a_block_are_refused():
    reader = Reader(leaves(10))
    with pytest.raises(ValueError, match="the leaves read are not the 12 the tree has"):
        BlockedTree.from_leaf_chunks(12, [reader.hashes], reader, block_leaves=4)
    short = BlockedTree(
        10, bytearray(reader.hashes[:0]), lambda start, end: bytearray(), block_leaves=16
    )
    with pytest.raises(ValueError, match="leaves 0 to 10 are not all in the log"):
        short.inclusion_proof(3, 10)
    with pytest.raises(ValueError, match="a block holds a power of two of leaves"):
        BlockedTree(10, bytearray(), reader, block_leaves=3)
