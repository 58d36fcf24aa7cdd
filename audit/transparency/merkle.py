"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification (pure Python).

MTH({}) = SHA-256(), MTH({d}) = SHA-256(0x00 || d), and for n > 1 with k the largest
power of two below n, MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])).
Nothing here knows Django: the sealing job, ``verify_audit`` and the proof bundle share it,
and ``tools/verify_audit_export.py`` carries its own copy of the verification half
(it must stay one standalone file); tests hold the two to the same answers.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class CompactRange:
    """The perfect subtrees covering leaves [0, size): log2(size) hashes that extend to any
    later size with one hash per new leaf (amortised), and fold to the root at this size."""

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != bin(size).count("1"):
            raise ValueError("a compact range holds one hash per set bit of its size")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes) -> None:
        self.hashes.append(leaf)
        merged = self.size
        while merged & 1:
            right = self.hashes.pop()
            self.hashes[-1] = node_hash(self.hashes[-1], right)
            merged >>= 1
        self.size += 1

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        root = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            root = node_hash(left, root)
        return root


class _ProofPaths:
    """RFC 6962's root, inclusion and consistency recursions over ``subtree`` and ``size``,
    shared by the whole-tree ``MerkleLevels`` and the bounded-memory ``BlockedTree``."""

    size: int

    def subtree(self, start: int, end: int) -> bytes:
        raise NotImplementedError

    def root(self, size: int) -> bytes:
        self._check_size(size)
        return self.subtree(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 6962 §2.1.1 PATH(index, D[0:size])."""
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of size {size}")
        return self._path(index, 0, size)

    def _path(self, index: int, start: int, end: int) -> list[bytes]:
        count = end - start
        if count == 1:
            return []
        k = _split(count)
        if index < k:
            return [*self._path(index, start, start + k), self.subtree(start + k, end)]
        return [*self._path(index - k, start + k, end), self.subtree(start, start + k)]

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 6962 §2.1.2 PROOF(old_size, D[0:new_size])."""
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
        if old_size in (0, new_size):
            return []
        return self._subproof(old_size, 0, new_size, True)

    def _subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        count = end - start
        if m == count:
            return [] if whole else [self.subtree(start, end)]
        k = _split(count)
        if m <= k:
            return [*self._subproof(m, start, start + k, whole), self.subtree(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self.subtree(start, start + k)]

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"the log has {self.size} leaves, not {size}")


class MerkleLevels(_ProofPaths):
    """Every complete node of the tree over the given leaves, level by level, in flat
    ``bytearray``s (32 bytes a node, no per-object overhead): any subtree hash, root,
    inclusion or consistency proof then costs O(log n) hashes."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        base = bytearray()
        for leaf in leaves:
            base += leaf
        self._build(base)

    @classmethod
    def from_concatenated(cls, leaves: bytearray) -> MerkleLevels:
        """From the leaf hashes laid end to end (32 bytes each), without copying them."""
        levels = cls.__new__(cls)
        levels._build(leaves)
        return levels

    def _build(self, base: bytearray) -> None:
        if len(base) % HASH_SIZE:
            raise ValueError("leaf hashes are 32 bytes each")
        self.levels = [base]
        while len(self.levels[-1]) >= 2 * HASH_SIZE:
            below = self.levels[-1]
            above = bytearray()
            for offset in range(0, len(below) - HASH_SIZE, 2 * HASH_SIZE):
                above += node_hash(
                    bytes(below[offset : offset + HASH_SIZE]),
                    bytes(below[offset + HASH_SIZE : offset + 2 * HASH_SIZE]),
                )
            self.levels.append(above)

    @property
    def size(self) -> int:
        return len(self.levels[0]) // HASH_SIZE

    def _node(self, level: int, index: int) -> bytes:
        offset = index * HASH_SIZE
        return bytes(self.levels[level][offset : offset + HASH_SIZE])

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for the ranges RFC 6962's recursion visits."""
        count = end - start
        if count <= 0:
            return EMPTY_ROOT
        if count & (count - 1) == 0 and start % count == 0:
            return self._node(count.bit_length() - 1, start // count)
        k = _split(count)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))


#: Leaves per block of a ``BlockedTree`` (a power of two): 128 KiB of leaf hashes.
BLOCK_LEAVES = 4096


class BlockedTree(_ProofPaths):
    """The tree over ``size`` leaves for proofs in bounded memory: only the nodes above
    whole blocks of ``block_leaves`` leaves are kept (two hashes a block: 16 KiB for a
    million leaves), and a block's own nodes are rebuilt from its leaves, read on demand
    with ``read_block(start, end)`` (their hashes end to end); the last ``cached_blocks``
    blocks read are kept, so proofs asked in leaf order read each block once.

    Every range RFC 6962's recursion visits with at most ``block_leaves`` leaves lies inside
    one block (it starts at a multiple of the power of two at or above its length), and
    every larger one splits down to whole aligned blocks or such ranges.
    """

    def __init__(
        self,
        size: int,
        block_roots: bytearray,
        read_block: Callable[[int, int], bytearray],
        *,
        block_leaves: int = BLOCK_LEAVES,
        cached_blocks: int = 2,
    ) -> None:
        if block_leaves < 1 or block_leaves & (block_leaves - 1):
            raise ValueError("a block holds a power of two of leaves")
        if len(block_roots) != size // block_leaves * HASH_SIZE:
            raise ValueError("one root per whole block")
        self.size = size
        self.block_leaves = block_leaves
        self.top = MerkleLevels.from_concatenated(block_roots)
        self._read_block = read_block
        self._cached_blocks = cached_blocks
        self.blocks: OrderedDict[int, MerkleLevels] = OrderedDict()

    @classmethod
    def from_leaf_chunks(
        cls,
        size: int,
        chunks: Iterable[bytes],
        read_block: Callable[[int, int], bytearray],
        *,
        block_leaves: int = BLOCK_LEAVES,
        cached_blocks: int = 2,
    ) -> BlockedTree:
        """From one pass over the first ``size`` leaf hashes (in chunks of any length, each
        hashes end to end), holding at most one block of them."""
        span = block_leaves * HASH_SIZE
        roots, pending = bytearray(), bytearray()
        for chunk in chunks:
            pending += chunk
            while len(pending) >= span:
                roots += MerkleLevels.from_concatenated(pending[:span]).root(block_leaves)
                del pending[:span]
        if len(roots) // HASH_SIZE * block_leaves + len(pending) // HASH_SIZE != size:
            raise ValueError(f"the leaves read are not the {size} the tree has")
        return cls(size, roots, read_block, block_leaves=block_leaves, cached_blocks=cached_blocks)

    def subtree(self, start: int, end: int) -> bytes:
        count = end - start
        if count <= 0:
            return EMPTY_ROOT
        if count >= self.block_leaves and count & (count - 1) == 0 and start % count == 0:
            # Whole aligned blocks (they end at or before ``size``, so all are whole).
            level = (count // self.block_leaves).bit_length() - 1
            return self.top._node(level, start // count)
        if count <= self.block_leaves:
            block = start // self.block_leaves
            offset = block * self.block_leaves
            return self._block(block).subtree(start - offset, end - offset)
        k = _split(count)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def _block(self, block: int) -> MerkleLevels:
        levels = self.blocks.get(block)
        if levels is None:
            start = block * self.block_leaves
            end = min(start + self.block_leaves, self.size)
            levels = MerkleLevels.from_concatenated(self._read_block(start, end))
            if levels.size != end - start:
                raise ValueError(f"leaves {start} to {end} are not all in the log")
            self.blocks[block] = levels
            while len(self.blocks) > self._cached_blocks:
                self.blocks.popitem(last=False)
        else:
            self.blocks.move_to_end(block)
        return levels


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2 (an empty old tree is consistent with every tree)."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == 0:
        return not proof
    if old_size == new_size:
        return not proof and old_root == new_root
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for sibling in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first = node_hash(sibling, first)
            second = node_hash(sibling, second)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            second = node_hash(second, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and first == old_root and second == new_root
