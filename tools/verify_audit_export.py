#!/usr/bin/env python3
"""Verify a govboard audit export offline: Python's standard library and ``cryptography``.

    python3 verify_audit_export.py EXPORT.json [--public-key BASE64_OR_PEM_FILE]

EXPORT.json is a proof bundle ({"format": "govboard-audit-bundle/1", ...}) or a report
carrying one under "proofs". Checked: the tree head's Ed25519 signature; every entry's
canonical text (that it is canonical JSON of its table and pk), its RFC 6962 leaf hash and
its inclusion proof (RFC 9162 §2.1.3.2) against the head's root; and every event the
report cites as {"table", "pk", "canonical"} outside "proofs" equals a proven entry.

Without --public-key the key the bundle names is trusted: that only proves the export is
self-consistent. Pin the server's published key to prove it came from that server.

Exit codes: 0 verified, 1 a check failed (the first failing entry is named), 2 bad input.
This file stands alone on purpose (copy it anywhere); its canonical form, leaf hash,
head message and inclusion check are the same as the server's audit.transparency ones,
and the server's tests hold them to the same answers.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BUNDLE_FORMAT = "govboard-audit-bundle/1"
HEAD_FORMAT = "govboard-audit-tree-head/1"
VERIFIED, FAILED, BAD_INPUT = 0, 1, 2


class VerificationFailed(Exception):
    pass


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


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


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
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


def load_public_key(value: str) -> Ed25519PublicKey:
    path = Path(value)
    if path.is_file():
        key = serialization.load_pem_public_key(path.read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"{value} is not an Ed25519 public key")
        return key
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(value, validate=True))


def find_bundle(document: Any) -> dict[str, Any]:
    if isinstance(document, dict) and document.get("format") == BUNDLE_FORMAT:
        return document
    proofs = document.get("proofs") if isinstance(document, dict) else None
    if isinstance(proofs, dict) and proofs.get("format") == BUNDLE_FORMAT:
        return proofs
    raise ValueError(f"neither a {BUNDLE_FORMAT} bundle nor a report with one under 'proofs'")


def verify_head(head: Any, pinned: Ed25519PublicKey | None) -> tuple[int, bytes]:
    if not isinstance(head, dict):
        raise VerificationFailed("the bundle has no signed tree head")
    try:
        size, root_hex = int(head["size"]), str(head["root_hash"])
        message = head_message(size, root_hex, str(head["timestamp"]), str(head["key_id"]))
        signature = base64.b64decode(head["signature"], validate=True)
        named = Ed25519PublicKey.from_public_bytes(
            base64.b64decode(head["public_key"], validate=True)
        )
        root = bytes.fromhex(root_hex)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise VerificationFailed(f"the tree head is malformed: {exc}") from exc
    key = pinned or named
    try:
        key.verify(signature, message)
    except InvalidSignature:
        raise VerificationFailed(f"the signature of tree head {size} does not verify") from None
    return size, root


def verify_entry(entry: Any, position: int, size: int, root: bytes) -> tuple[str, str, str]:
    name = f"entry {position}"
    try:
        table, pk, canonical = str(entry["table"]), str(entry["pk"]), entry["canonical"]
        index = int(entry["leaf_index"])
        proof = [bytes.fromhex(node) for node in entry["inclusion_proof"]]
        name = f"entry {position} ({table} pk {pk}, leaf {index})"
        parsed = json.loads(canonical)
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationFailed(f"{name} is malformed: {exc}") from exc
    if canonical_json(parsed).decode("utf-8") != canonical:
        raise VerificationFailed(f"{name}: its canonical text is not canonical JSON")
    if not isinstance(parsed, dict) or (parsed.get("table"), parsed.get("pk")) != (table, pk):
        raise VerificationFailed(f"{name}: its canonical text is of another row")
    if not verify_inclusion(leaf_hash(canonical.encode("utf-8")), index, size, proof, root):
        raise VerificationFailed(f"{name}: the inclusion proof does not lead to the head's root")
    return table, pk, canonical


def cited_events(value: Any, *, top: bool = True):
    """Every {"table", "pk", "canonical"} object in the report outside its "proofs"."""
    if isinstance(value, dict):
        if not top and {"table", "pk", "canonical"} <= value.keys():
            yield value
        for key, item in value.items():
            if not (top and key == "proofs"):
                yield from cited_events(item, top=False)
    elif isinstance(value, list):
        for item in value:
            yield from cited_events(item, top=False)


def verify(document: Any, pinned: Ed25519PublicKey | None = None) -> str:
    bundle = find_bundle(document)
    size, root = verify_head(bundle.get("tree_head"), pinned)
    entries = bundle.get("entries")
    if not isinstance(entries, list):
        raise VerificationFailed("the bundle has no entries list")
    proven = {}
    for position, entry in enumerate(entries):
        table, pk, canonical = verify_entry(entry, position, size, root)
        proven[(table, pk)] = canonical
    if bundle is not document:
        for event in cited_events(document):
            key = (str(event["table"]), str(event["pk"]))
            if key not in proven:
                raise VerificationFailed(f"the report cites {key[0]} pk {key[1]} without a proof")
            if event["canonical"] != proven[key]:
                raise VerificationFailed(
                    f"the report's {key[0]} pk {key[1]} differs from its proof"
                )
    return f"verified {len(entries)} entries against tree head size {size} root {root.hex()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path)
    parser.add_argument("--public-key", help="the server's key: base64 raw Ed25519 or a PEM file")
    arguments = parser.parse_args(argv)
    try:
        document = json.loads(arguments.export.read_bytes())
        pinned = load_public_key(arguments.public_key) if arguments.public_key else None
    except (OSError, ValueError, binascii.Error) as exc:
        print(f"cannot read the export: {exc}", file=sys.stderr)
        return BAD_INPUT
    try:
        summary = verify(document, pinned)
    except ValueError as exc:
        print(f"not an audit export: {exc}", file=sys.stderr)
        return BAD_INPUT
    except VerificationFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return FAILED
    if pinned is None:
        summary += " (key not pinned: pass --public-key to check it is the server's)"
    print(summary)
    return VERIFIED


if __name__ == "__main__":
    sys.exit(main())
