"""The server's Ed25519 signing key, canonical JSON and DSSE envelopes.

Decision records are in-toto Statements in DSSE envelopes so a deploy pipeline can verify
them with standard tools (securesystemslib, in-toto, cosign-style verifiers) and the
published public key. Signing uses ``cryptography`` directly; verification uses
securesystemslib's DSSE implementation, so the two independent codecs check each other.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from securesystemslib import exceptions as sslib_exceptions
from securesystemslib.dsse import Envelope
from securesystemslib.signer import Key, SSlibKey

# The key itself is the kernel's (the audit log's tree heads sign with it too).
from core.signing_key import (  # noqa: F401 - re-exported for the signers of this app
    DEVELOPMENT_KEY_LABEL,
    is_development_key,
    signing_private_key,
)

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def signing_public_key() -> Key:
    """The securesystemslib key (with its standard keyid) for the server's public key."""
    return SSlibKey.from_crypto(signing_private_key().public_key())


def signing_public_key_pem() -> str:
    """The published public key (PEM SubjectPublicKeyInfo)."""
    return (
        signing_private_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def sign_bytes(data: bytes) -> tuple[str, str]:
    """Sign raw bytes; returns (base64 signature, keyid)."""
    signature = signing_private_key().sign(data)
    return base64.b64encode(signature).decode("ascii"), signing_public_key().keyid


def verify_bytes(data: bytes, signature_b64: str, *, key: Key | None = None) -> bool:
    key = key or signing_public_key()
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key._crypto_key().verify(signature, data)
    except Exception:
        return False
    return True


def dsse_sign(statement: dict[str, Any]) -> dict[str, Any]:
    """Wrap a statement in a DSSE envelope signed by the server key."""
    payload = canonical_json(statement)
    signature, keyid = sign_bytes(pae(IN_TOTO_PAYLOAD_TYPE, payload))
    return {
        "payloadType": IN_TOTO_PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [{"keyid": keyid, "sig": signature}],
    }


def dsse_verify(envelope: dict[str, Any], *, key: Key | None = None) -> dict[str, Any]:
    """Verify with securesystemslib; return the statement or raise ``ValueError``."""
    key = key or signing_public_key()
    try:
        # from_dict pops keys out of the dicts it is given: never hand it the caller's.
        parsed = Envelope.from_dict(copy.deepcopy(envelope))
        if parsed.payload_type != IN_TOTO_PAYLOAD_TYPE:
            raise ValueError(f"unexpected payloadType {parsed.payload_type!r}")
        parsed.verify([key], 1)
        statement = json.loads(parsed.payload)
    except (sslib_exceptions.VerificationError, KeyError, TypeError, binascii.Error) as exc:
        raise ValueError(f"the envelope does not verify: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError("the payload is not JSON") from exc
    if not isinstance(statement, dict):
        raise ValueError("the payload is not an in-toto statement")
    return statement
