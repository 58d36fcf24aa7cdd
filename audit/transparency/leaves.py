"""A sealed leaf as the verifier sees it, and the chain that orders leaves."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

CHAIN_START = bytes(32)


def chain_next(previous: bytes, leaf: bytes) -> bytes:
    """SHA-256(previous chain hash || leaf hash): ties each leaf to the one sealed before it."""
    return hashlib.sha256(previous + leaf).digest()


@dataclass(frozen=True, slots=True)
class SealedLeaf:
    leaf_index: int
    table: str
    pk: int
    leaf_hash: bytes
    chain_hash: bytes
