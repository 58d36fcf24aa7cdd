"""Signed tree heads: the signed message, the head document, and checking a signature.

The signed message is the canonical JSON of
``{"format":"govboard-audit-tree-head/1","key_id","root_hash","timestamp","tree_size"}``;
``tools/verify_audit_export.py`` builds the same bytes. The head document (stored outside
the database, posted to a witness, carried in a proof bundle) is that object plus the
base64 signature.
"""

from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.transparency.canonical import canonical_json

HEAD_FORMAT = "govboard-audit-tree-head/1"


@dataclass(frozen=True)
class TreeHead:
    """A tree head as claimed by someone (the database, a file, a witness)."""

    tree_size: int
    root_hash: str
    timestamp: str
    key_id: str
    signature: str

    def message(self) -> bytes:
        return head_message(self.tree_size, self.root_hash, self.timestamp, self.key_id)

    def document(self) -> dict[str, Any]:
        return {
            "format": HEAD_FORMAT,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> TreeHead:
        if document.get("format") != HEAD_FORMAT:
            raise ValueError(f"not a {HEAD_FORMAT} document")
        try:
            return cls(
                tree_size=int(document["tree_size"]),
                root_hash=str(document["root_hash"]),
                timestamp=str(document["timestamp"]),
                key_id=str(document["key_id"]),
                signature=str(document["signature"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"a tree head document needs every field: {exc}") from exc

    def signature_valid(self, public_key: Ed25519PublicKey) -> bool:
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return _signature_valid(raw, self.signature, self.message())


@functools.lru_cache(maxsize=4096)
def _signature_valid(public_key: bytes, signature: str, message: bytes) -> bool:
    # Cached: a verifier checking one head against many candidate logs (AUD-3) pays once.
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            base64.b64decode(signature, validate=True), message
        )
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def head_message(tree_size: int, root_hash: str, timestamp: str, key_id: str) -> bytes:
    return canonical_json(
        {
            "format": HEAD_FORMAT,
            "key_id": key_id,
            "root_hash": root_hash,
            "timestamp": timestamp,
            "tree_size": tree_size,
        }
    )
