"""Provenance verification against real DSSE envelopes signed with securesystemslib keys."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner

from approvals.evidence import EvidenceError
from approvals.evidence.provenance import (
    IN_TOTO_PAYLOAD_TYPE,
    SLSA_PROVENANCE_V1,
    STATEMENT_V1,
    TrustedKey,
    verify_provenance,
)

ARTIFACT = b"tiny model weights"
CHECKSUM = hashlib.sha256(ARTIFACT).hexdigest()
OTHER_CHECKSUM = hashlib.sha256(b"something else").hexdigest()


def statement(digest: str = CHECKSUM, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "_type": STATEMENT_V1,
        "subject": [{"name": "model.safetensors", "digest": {"sha256": digest}}],
        "predicateType": SLSA_PROVENANCE_V1,
        "predicate": {
            "buildDefinition": {
                "buildType": "https://example.com/ml-train/v1",
                "externalParameters": {"commit": "a" * 40},
            },
            "runDetails": {"builder": {"id": "https://ci.example.com/runner"}},
        },
    }
    body.update(overrides)
    return body


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def sign(body: dict[str, Any], *signers: CryptoSigner) -> dict[str, Any]:
    envelope = Envelope(payload=dumps(body), payload_type=IN_TOTO_PAYLOAD_TYPE, signatures={})
    for signer in signers:
        envelope.sign(signer)
    return envelope.to_dict()


def trusted(signer: CryptoSigner, *, as_pem: bool = False) -> TrustedKey:
    public = signer.public_key
    if as_pem:
        pem = (
            signer._private_key.public_key()
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        return TrustedKey(keyid=public.keyid, public_key=pem, scheme=public.scheme)
    return TrustedKey(keyid=public.keyid, public_key=public.to_dict(), scheme=public.scheme)


@pytest.fixture(scope="module")
def ed25519() -> CryptoSigner:
    return CryptoSigner.generate_ed25519()


@pytest.fixture(scope="module")
def ecdsa() -> CryptoSigner:
    return CryptoSigner.generate_ecdsa()


@pytest.fixture(scope="module")
def stranger() -> CryptoSigner:
    return CryptoSigner.generate_ed25519()


def test_signed_envelope_with_matching_subject_verifies(ed25519: CryptoSigner) -> None:
    report = verify_provenance(
        dumps(sign(statement(), ed25519)), expected_sha256=CHECKSUM, trusted_keys=[trusted(ed25519)]
    )
    assert report.statement_type == STATEMENT_V1
    assert report.predicate_type == SLSA_PROVENANCE_V1
    assert report.subject_names == ["model.safetensors"]
    assert report.subject_matches is True
    assert report.signed is True
    assert report.signature_valid is True
    assert report.signer_keyid == ed25519.public_key.keyid
    assert report.errors == []
    assert report.verified


@pytest.mark.parametrize("as_pem", [False, True])
def test_ecdsa_key_in_dict_or_pem_form(ecdsa: CryptoSigner, as_pem: bool) -> None:
    report = verify_provenance(
        dumps(sign(statement(), ecdsa)),
        expected_sha256=CHECKSUM,
        trusted_keys=[trusted(ecdsa, as_pem=as_pem)],
    )
    assert report.signature_valid is True
    assert report.verified


def test_ed25519_pem_key(ed25519: CryptoSigner) -> None:
    report = verify_provenance(
        dumps(sign(statement(), ed25519)),
        expected_sha256=CHECKSUM,
        trusted_keys=[trusted(ed25519, as_pem=True)],
    )
    assert report.verified


def test_one_trusted_signature_among_several_is_enough(
    ed25519: CryptoSigner, stranger: CryptoSigner
) -> None:
    report = verify_provenance(
        dumps(sign(statement(), stranger, ed25519)),
        expected_sha256=CHECKSUM,
        trusted_keys=[trusted(ed25519)],
    )
    assert report.signature_valid is True
    assert report.signer_keyid == ed25519.public_key.keyid


def test_tampered_payload_fails_signature(ed25519: CryptoSigner) -> None:
    envelope = sign(statement(), ed25519)
    # Swap in a statement for another artifact, keeping the original signature.
    envelope["payload"] = base64.b64encode(dumps(statement(OTHER_CHECKSUM))).decode()
    report = verify_provenance(
        dumps(envelope), expected_sha256=OTHER_CHECKSUM, trusted_keys=[trusted(ed25519)]
    )
    assert report.subject_matches is True  # the forged claim names the artifact...
    assert report.signed is True
    assert report.signature_valid is False  # ...but nobody trusted said so
    assert report.signer_keyid is None
    assert not report.verified
    assert any("bad signature" in error for error in report.errors)


def test_flipped_signature_bytes_fail(ed25519: CryptoSigner) -> None:
    envelope = sign(statement(), ed25519)
    sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    sig[0] ^= 0xFF
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    report = verify_provenance(
        dumps(envelope), expected_sha256=CHECKSUM, trusted_keys=[trusted(ed25519)]
    )
    assert report.signature_valid is False


def test_unknown_key_fails(ed25519: CryptoSigner, stranger: CryptoSigner) -> None:
    report = verify_provenance(
        dumps(sign(statement(), stranger)),
        expected_sha256=CHECKSUM,
        trusted_keys=[trusted(ed25519)],
    )
    assert report.signed is True
    assert report.signature_valid is False
    assert any("unknown keyid" in error for error in report.errors)


def test_keyid_spoofing_does_not_help(ed25519: CryptoSigner, stranger: CryptoSigner) -> None:
    """A stranger naming the trusted keyid still has to produce a valid signature."""
    envelope = sign(statement(), stranger)
    envelope["signatures"][0]["keyid"] = ed25519.public_key.keyid
    report = verify_provenance(
        dumps(envelope), expected_sha256=CHECKSUM, trusted_keys=[trusted(ed25519)]
    )
    assert report.signature_valid is False


def test_no_trusted_keys_configured_is_not_valid(ed25519: CryptoSigner) -> None:
    report = verify_provenance(
        dumps(sign(statement(), ed25519)), expected_sha256=CHECKSUM, trusted_keys=[]
    )
    assert report.signature_valid is False
    assert any("No trusted" in error for error in report.errors)


def test_signed_but_subject_mismatch(ed25519: CryptoSigner) -> None:
    report = verify_provenance(
        dumps(sign(statement(OTHER_CHECKSUM), ed25519)),
        expected_sha256=CHECKSUM,
        trusted_keys=[trusted(ed25519)],
    )
    assert report.signature_valid is True
    assert report.subject_matches is False
    assert not report.verified


def test_bare_statement_is_unsigned() -> None:
    report = verify_provenance(dumps(statement()), expected_sha256=CHECKSUM, trusted_keys=[])
    assert report.subject_matches is True
    assert report.signed is False
    assert report.signature_valid is None
    assert report.signer_keyid is None
    assert report.errors == []
    assert not report.verified


def test_any_subject_may_match() -> None:
    body = statement()
    body["subject"] = [
        {"name": "tokenizer.json", "digest": {"sha256": OTHER_CHECKSUM}},
        {"name": "model.safetensors", "digest": {"sha256": CHECKSUM, "sha512": "ab" * 64}},
    ]
    report = verify_provenance(dumps(body), expected_sha256=CHECKSUM, trusted_keys=[])
    assert report.subject_matches is True
    assert report.subject_names == ["tokenizer.json", "model.safetensors"]


def test_envelope_without_signatures_is_unsigned() -> None:
    envelope = {
        "payloadType": IN_TOTO_PAYLOAD_TYPE,
        "payload": base64.b64encode(dumps(statement())).decode(),
        "signatures": [],
    }
    report = verify_provenance(dumps(envelope), expected_sha256=CHECKSUM, trusted_keys=[])
    assert report.signed is False
    assert report.signature_valid is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"_type": "https://in-toto.io/Statement/v0.1"}, "_type"),
        ({"predicateType": "https://slsa.dev/provenance/v0.2"}, "predicateType"),
        ({"predicate": {}}, "buildDefinition"),
        ({"subject": []}, "subject"),
        ({"subject": "model"}, "subject"),
    ],
)
def test_wrong_statement_shapes_are_reported(overrides: dict[str, Any], message: str) -> None:
    report = verify_provenance(
        dumps(statement(**overrides)), expected_sha256=CHECKSUM, trusted_keys=[]
    )
    assert any(message in error for error in report.errors), report.errors
    assert not report.verified


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   ",
        b"not json",
        b"\xff\xfe{}",
        b"[]",
        b'"a string"',
        b'{"hello": "world"}',
        b'{"_type": "x", "_type": "y"}',
        b'{"_type": NaN}',
        b'{"_type": 1e999}',
        b'{"_type": 1' + b"0" * 5000 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100 + b"1" + b"}" * 100,
        b'{"payloadType": "text/plain", "payload": "e30=", "signatures": []}',
        b'{"payloadType": "application/vnd.in-toto+json", "payload": "!!!", "signatures": []}',
        b'{"payloadType": "application/vnd.in-toto+json", "payload": "", "signatures": []}',
        b'{"payloadType": "application/vnd.in-toto+json", "payload": "e30=", "signatures": {}}',
        b'{"payloadType": "application/vnd.in-toto+json", "payload": "e30=", "signatures": [1]}',
        # A payload that is itself garbage (base64 of "[1,2]" and of bad UTF-8).
        b'{"payloadType": "application/vnd.in-toto+json", "payload": "WzEsMl0=", "signatures": []}',
        b'{"payloadType": "application/vnd.in-toto+json", "payload": "/w==", "signatures": []}',
    ],
)
def test_garbage_raises_evidence_error(data: bytes) -> None:
    started = time.thread_time()
    with pytest.raises(EvidenceError):
        verify_provenance(data, expected_sha256=CHECKSUM, trusted_keys=[])
    assert time.thread_time() - started < 1


def test_oversized_document_is_refused_before_parsing() -> None:
    data = b'{"_type": "' + b"a" * (5 * 1024 * 1024) + b'"}'
    with pytest.raises(EvidenceError, match="the limit is"):
        verify_provenance(data, expected_sha256=CHECKSUM, trusted_keys=[])


def test_duplicate_keys_inside_the_signed_payload_are_refused(ed25519: CryptoSigner) -> None:
    """Two readers must not see two documents: the signer one digest, we another."""
    raw = dumps(statement())[:-1] + b', "subject": []}'
    envelope = Envelope(payload=raw, payload_type=IN_TOTO_PAYLOAD_TYPE, signatures={})
    envelope.sign(ed25519)
    with pytest.raises(EvidenceError, match="duplicate key"):
        verify_provenance(
            dumps(envelope.to_dict()), expected_sha256=CHECKSUM, trusted_keys=[trusted(ed25519)]
        )


def test_bad_expected_checksum_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="expected_sha256"):
        verify_provenance(dumps(statement()), expected_sha256="ABC", trusted_keys=[])


def test_invalid_trusted_key_fails_at_configuration() -> None:
    with pytest.raises(ValueError, match="PEM"):
        TrustedKey(keyid="k1", public_key="-----BEGIN PUBLIC KEY-----\nnope", scheme="ed25519")
    with pytest.raises(ValueError, match="key dict"):
        TrustedKey(
            keyid="k1",
            public_key={"keytype": "ed25519", "keyval": {"public": "zz"}},
            scheme="ed25519",
        )
