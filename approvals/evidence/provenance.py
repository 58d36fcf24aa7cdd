"""Verify SLSA provenance: does the attestation name our artifact, and who signed it?

CI uploads either a bare in-toto Statement v1 or the same statement wrapped in a DSSE
envelope. The promotion check needs two facts from it (DESIGN "Lifecycle and approval
rules"): a subject's sha256 equals the version checksum, and, when signed, the signature
was made by a key the registry trusts. Cryptography is securesystemslib's (DSSE PAE and
``SSlibKey``), never hand-rolled; statement structure is checked with the in-toto
attestation library's own validators.

Input is hostile (RELIABILITY IN-2): size-bounded, strict UTF-8, no duplicate keys, no
NaN/Infinity, nesting and number length bounded. Garbage raises ``EvidenceError``; a
readable document that fails verification yields a report whose ``errors`` say why.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib import exceptions as sslib_exceptions
from securesystemslib.dsse import Envelope
from securesystemslib.signer import Key, Signature, SSlibKey

from approvals.evidence import EvidenceError
from approvals.evidence.strictjson import load_json

STATEMENT_V1 = "https://in-toto.io/Statement/v1"
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"

# Real SLSA provenance with many resolved dependencies stays well under this; anything
# bigger is not provenance we want to parse in a request.
MAX_PROVENANCE_BYTES = 4 * 1024 * 1024
# Nesting beyond this is an attack on the parser, not a document (IN-2: depth 10^5).
MAX_JSON_DEPTH = 64
MAX_SIGNATURES = 16

_SHA256_HEX = re.compile(r"\A[0-9a-f]{64}\Z")


def load_json_document(data: bytes, *, max_bytes: int, what: str) -> Any:
    """Parse untrusted JSON strictly (see ``approvals.evidence.strictjson``).

    Why strict: a duplicate key lets two readers see two different documents (the signer
    one value, the checker another); NaN and Infinity are not JSON; deep nesting and
    enormous numbers are parser attacks.
    """
    return load_json(data, max_bytes=max_bytes, max_depth=MAX_JSON_DEPTH, what=what)


@dataclass(frozen=True)
class TrustedKey:
    """A public key the registry accepts provenance signatures from.

    ``public_key`` is either securesystemslib's dict form (``{"keytype", "scheme",
    "keyval": {"public": ...}}``) or a PEM SubjectPublicKeyInfo string. ``keyid`` is what
    DSSE signatures name; it is an identifier chosen by whoever registered the key, not
    derived from the key, so a signature only counts when the named key also verifies it.
    Invalid keys fail at construction, so misconfiguration is loud, not a silent "unsigned".
    """

    keyid: str
    public_key: Mapping[str, Any] | str
    scheme: str

    def __post_init__(self) -> None:
        self.to_sslib_key()

    def to_sslib_key(self) -> Key:
        """The securesystemslib key that verifies signatures made with this key."""
        if not isinstance(self.keyid, str) or not self.keyid:
            raise ValueError("A trusted key needs a non-empty keyid.")
        if isinstance(self.public_key, str):
            try:
                crypto_key = load_pem_public_key(self.public_key.encode("ascii"))
                return SSlibKey.from_crypto(crypto_key, keyid=self.keyid, scheme=self.scheme)
            except (ValueError, TypeError, UnicodeEncodeError) as exc:
                raise ValueError(f"Trusted key {self.keyid!r} is not a usable PEM key.") from exc
        if not isinstance(self.public_key, Mapping):
            raise ValueError(f"Trusted key {self.keyid!r} must be a PEM string or a key dict.")
        key_dict = copy.deepcopy(dict(self.public_key))
        if key_dict.get("scheme", self.scheme) != self.scheme:
            raise ValueError(f"Trusted key {self.keyid!r}: the dict's scheme differs.")
        key_dict["scheme"] = self.scheme
        try:
            key = SSlibKey.from_dict(self.keyid, key_dict)
            # Build the cryptography object now so a malformed key fails at configuration
            # time rather than as a puzzling "bad signature" on the first upload.
            key._crypto_key()
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"Trusted key {self.keyid!r} is not a usable key dict.") from exc
        return key


@dataclass(frozen=True)
class ProvenanceReport:
    """What a provenance document says and what of it could be verified."""

    statement_type: str
    predicate_type: str
    subject_names: list[str]
    subject_matches: bool
    signed: bool
    signature_valid: bool | None
    signer_keyid: str | None
    errors: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        """Signed by a trusted key, names the artifact, and nothing else was wrong."""
        return (
            self.signed
            and self.signature_valid is True
            and self.subject_matches
            and (not self.errors)
        )


def verify_provenance(
    data: bytes, *, expected_sha256: str, trusted_keys: list[TrustedKey]
) -> ProvenanceReport:
    """Read a Statement or DSSE envelope and check subject digest and signature.

    Only the statement inside a verified envelope is the signer's word; for an unsigned
    statement ``signed`` is False and ``signature_valid`` None, and the policy decides
    whether that is acceptable.
    """
    if not isinstance(expected_sha256, str) or not _SHA256_HEX.match(expected_sha256):
        raise ValueError("expected_sha256 must be 64 lowercase hexadecimal characters.")
    document = load_json_document(data, max_bytes=MAX_PROVENANCE_BYTES, what="provenance")
    if not isinstance(document, dict):
        raise EvidenceError("The provenance must be a JSON object.")

    errors: list[str] = []
    if "payloadType" in document or "signatures" in document or "payload" in document:
        payload, signatures = _read_envelope(document)
        statement = load_json_document(
            payload, max_bytes=MAX_PROVENANCE_BYTES, what="envelope payload"
        )
        signed = bool(signatures)
        signature_valid: bool | None = None
        signer_keyid: str | None = None
        if signed:
            signature_valid, signer_keyid, sig_errors = _verify_envelope(
                payload, signatures, trusted_keys
            )
            errors.extend(sig_errors)
        else:
            errors.append("The envelope carries no signatures.")
    elif "_type" in document:
        statement, signed, signature_valid, signer_keyid = document, False, None, None
    else:
        raise EvidenceError(
            "The provenance is neither an in-toto Statement (no '_type') nor a DSSE envelope "
            "(no 'payloadType')."
        )

    if not isinstance(statement, dict):
        raise EvidenceError("The in-toto statement must be a JSON object.")
    statement_type, predicate_type, names, matches = _read_statement(
        statement, expected_sha256=expected_sha256, errors=errors
    )
    return ProvenanceReport(
        statement_type=statement_type,
        predicate_type=predicate_type,
        subject_names=names,
        subject_matches=matches,
        signed=signed,
        signature_valid=signature_valid,
        signer_keyid=signer_keyid,
        errors=errors,
    )


def _read_envelope(document: dict[str, Any]) -> tuple[bytes, list[dict[str, str]]]:
    """The envelope's payload bytes and well-formed signatures, or ``EvidenceError``."""
    payload_type = document.get("payloadType")
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise EvidenceError(
            f"The DSSE envelope's payloadType must be {IN_TOTO_PAYLOAD_TYPE!r}, "
            f"not {str(payload_type)[:100]!r}."
        )
    payload_b64 = document.get("payload")
    if not isinstance(payload_b64, str) or not payload_b64:
        raise EvidenceError("The DSSE envelope has no base64 'payload' string.")
    try:
        payload = _b64decode(payload_b64)
    except ValueError as exc:
        raise EvidenceError("The DSSE envelope's payload is not valid base64.") from exc
    signatures = document.get("signatures", [])
    if not isinstance(signatures, list) or len(signatures) > MAX_SIGNATURES:
        raise EvidenceError(f"The DSSE 'signatures' must be a list of at most {MAX_SIGNATURES}.")
    for signature in signatures:
        if not (
            isinstance(signature, dict)
            and isinstance(signature.get("sig"), str)
            and isinstance(signature.get("keyid", ""), str)
        ):
            raise EvidenceError("Each DSSE signature is an object with a 'sig' string.")
    return payload, signatures


def _b64decode(value: str) -> bytes:
    """Standard or URL-safe base64 (DSSE allows either), strictly: no stray characters."""
    try:
        if "-" in value or "_" in value:
            value = value.replace("-", "+").replace("_", "/")
        value += "=" * (-len(value) % 4)
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("invalid base64") from exc


def _verify_envelope(
    payload: bytes, signatures: list[dict[str, str]], trusted_keys: list[TrustedKey]
) -> tuple[bool, str | None, list[str]]:
    """Whether a trusted key verifies one of the signatures over DSSE's PAE of the payload.

    securesystemslib matches signatures to keys by keyid, then verifies; a signature whose
    keyid is unknown, or whose bytes do not verify, simply does not count.
    """
    parsed = {}
    errors: list[str] = []
    for signature in signatures:
        keyid = signature.get("keyid", "")
        try:
            sig_hex = _b64decode(signature["sig"]).hex()
        except ValueError:
            errors.append(f"Signature by {keyid[:80]!r} is not valid base64.")
            continue
        if keyid in parsed:
            errors.append(f"Two signatures name the same keyid {keyid[:80]!r}.")
            continue
        parsed[keyid] = Signature(keyid=keyid, sig=sig_hex)
    envelope = Envelope(payload=payload, payload_type=IN_TOTO_PAYLOAD_TYPE, signatures=parsed)
    keys = [trusted.to_sslib_key() for trusted in trusted_keys]
    if not keys:
        return False, None, [*errors, "No trusted provenance keys are configured."]
    try:
        accepted = envelope.verify(keys, threshold=1)
    except sslib_exceptions.VerificationError:
        known = {key.keyid for key in keys}
        unknown = sorted(keyid for keyid in parsed if keyid not in known)
        if unknown and len(unknown) == len(parsed):
            errors.append(
                "No signature is from a trusted key (unknown keyid "
                + ", ".join(repr(k[:80]) for k in unknown)
                + ")."
            )
        else:
            errors.append("No signature verified with a trusted key (bad signature).")
        return False, None, errors
    signer = sorted(accepted)[0]
    return True, signer, errors


def _read_statement(
    statement: dict[str, Any], *, expected_sha256: str, errors: list[str]
) -> tuple[str, str, list[str], bool]:
    """Type, predicate type, subject names and whether a subject digest is the checksum."""
    statement_type = statement.get("_type")
    predicate_type = statement.get("predicateType")
    statement_type = statement_type if isinstance(statement_type, str) else ""
    predicate_type = predicate_type if isinstance(predicate_type, str) else ""
    if statement_type != STATEMENT_V1:
        errors.append(f"The statement _type must be {STATEMENT_V1!r}.")
    if predicate_type != SLSA_PROVENANCE_V1:
        errors.append(f"The predicateType must be {SLSA_PROVENANCE_V1!r} (SLSA v1).")
    try:
        proto = json_format.ParseDict(
            statement, statement_pb2.Statement(), ignore_unknown_fields=True
        )
        Statement.copy_from_pb(proto).validate()
    except (json_format.ParseError, ValueError, TypeError, AttributeError) as exc:
        errors.append(f"The statement is not a valid in-toto v1 statement: {str(exc)[:200]}")

    predicate = statement.get("predicate")
    if predicate_type == SLSA_PROVENANCE_V1 and not (
        isinstance(predicate, dict)
        and isinstance(predicate.get("buildDefinition"), dict)
        and isinstance(predicate.get("runDetails"), dict)
    ):
        errors.append("The SLSA v1 predicate needs 'buildDefinition' and 'runDetails' objects.")

    names: list[str] = []
    matches = False
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        errors.append("The statement names no subject.")
        return statement_type, predicate_type, names, False
    for subject in subjects:
        if not isinstance(subject, dict):
            errors.append("A subject is not an object.")
            continue
        name = subject.get("name")
        if isinstance(name, str):
            names.append(name)
        digest = subject.get("digest")
        sha256 = digest.get("sha256") if isinstance(digest, dict) else None
        if isinstance(sha256, str) and sha256.lower() == expected_sha256:
            matches = True
    if not matches:
        errors.append("No subject's digest.sha256 equals the version checksum.")
    return statement_type, predicate_type, names, matches
