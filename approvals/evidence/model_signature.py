"""Verify an OpenSSF model-signing signature over a model directory with registered keys.

The ``model-signing`` package hashes every file of the model into a manifest and signs
that manifest in a Sigstore bundle. Here only its public-key flavour is used: the
registry holds the public keys CI signs with, so verification needs no network (Sigstore
keyless would contact Fulcio/Rekor). Each registered key is tried in turn; the first that
verifies both the signature and the current file hashes names the signer.

The package does the cryptography and the manifest comparison; this module adds what a
server needs around it: a bounded, strictly parsed signature file, no symlinks in the
model (hashing must not wander outside the artifact), and a report instead of exceptions.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import os
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

from approvals.evidence import EvidenceError
from approvals.evidence.provenance import load_json_document

# A signature bundle holds one digest per file; even a very large model stays far below.
MAX_SIGNATURE_BYTES = 16 * 1024 * 1024
MAX_MODEL_ENTRIES = 100_000


@functools.cache
def load_model_signing() -> types.ModuleType:
    """Import ``model_signing`` lazily: it is heavy, and only this check needs it.

    (model-signing imports pyOpenSSL without declaring it; pyproject.toml pins it for us.)
    """
    return importlib.import_module("model_signing")


@dataclass(frozen=True)
class ModelSignatureReport:
    """Whether a registered key verified the model; ``signer`` is that key's fingerprint."""

    verified: bool
    signer: str | None
    errors: list[str] = field(default_factory=list)


def key_fingerprint(public_key_pem: bytes) -> str:
    """``sha256:<hex>`` of the DER SubjectPublicKeyInfo: stable whatever the PEM wrapping."""
    key = load_pem_public_key(public_key_pem)
    der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def verify_model_signature(
    model_dir: Path, signature_path: Path, *, public_keys: list[bytes]
) -> ModelSignatureReport:
    """Verify ``signature_path`` over ``model_dir`` with each of ``public_keys`` (PEM).

    Raises ``EvidenceError`` when the inputs cannot be examined at all (missing, a
    symlink, not a signature bundle); a signature that does not verify is a report with
    ``verified=False`` and the reason per key.
    """
    _check_model_tree(model_dir)
    _check_signature_file(signature_path)
    if not public_keys:
        return ModelSignatureReport(False, None, ["No model-signing public keys are registered."])

    verifying = load_model_signing().verifying
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="govboard-msig-") as scratch:
        for index, pem in enumerate(public_keys):
            try:
                fingerprint = key_fingerprint(pem)
                if not isinstance(load_pem_public_key(pem), ec.EllipticCurvePublicKey):
                    raise ValueError("model-signing public-key signatures use EC keys")
            except (ValueError, TypeError) as exc:
                errors.append(f"Registered key #{index + 1} is unusable: {exc}")
                continue
            # The package's verifier takes a key file, not bytes.
            key_path = Path(scratch) / f"key-{index}.pem"
            key_path.write_bytes(pem)
            try:
                verifying.Config().use_elliptic_key_verifier(public_key=key_path).verify(
                    model_dir, signature_path
                )
            except Exception as exc:  # the package raises ValueError, InvalidSignature, ...
                errors.append(f"{fingerprint[:19]}: {_describe(exc)}")
                continue
            return ModelSignatureReport(verified=True, signer=fingerprint, errors=[])
    return ModelSignatureReport(verified=False, signer=None, errors=errors)


def _describe(exc: Exception) -> str:
    message = str(exc).strip() or type(exc).__name__
    if type(exc).__name__ == "InvalidSignature":
        message = "the signature does not verify with this key"
    return message[:500]


def _check_model_tree(model_dir: Path) -> None:
    """The model is a real file or directory with no symlinks or special files inside.

    model-signing can be told to follow symlinks by the (signed) manifest; refusing them
    here keeps hashing inside the artifact whatever the signer chose.
    """
    try:
        model_dir.lstat()
    except OSError as exc:
        raise EvidenceError(f"The model path {model_dir} cannot be read.") from exc
    if model_dir.is_symlink():
        raise EvidenceError("The model path is a symlink.")
    if model_dir.is_file():
        return
    if not model_dir.is_dir():
        raise EvidenceError("The model path is neither a file nor a directory.")
    seen = 0
    for base, dirs, files in os.walk(model_dir, followlinks=False):
        for name in (*dirs, *files):
            seen += 1
            if seen > MAX_MODEL_ENTRIES:
                raise EvidenceError(f"The model has more than {MAX_MODEL_ENTRIES} entries.")
            entry = Path(base) / name
            if entry.is_symlink():
                raise EvidenceError(f"The model contains a symlink: {entry.relative_to(model_dir)}")
            if not (entry.is_dir() or entry.is_file()):
                raise EvidenceError(
                    f"The model contains a special file: {entry.relative_to(model_dir)}"
                )


def _check_signature_file(signature_path: Path) -> None:
    """A regular, bounded, strictly valid JSON file before the package parses it again."""
    if signature_path.is_symlink() or not signature_path.is_file():
        raise EvidenceError("The signature must be a regular file.")
    if signature_path.stat().st_size > MAX_SIGNATURE_BYTES:
        raise EvidenceError(f"The signature is larger than {MAX_SIGNATURE_BYTES} bytes.")
    document = load_json_document(
        signature_path.read_bytes(), max_bytes=MAX_SIGNATURE_BYTES, what="model signature"
    )
    if not isinstance(document, dict) or not isinstance(document.get("verificationMaterial"), dict):
        raise EvidenceError("The model signature is not a Sigstore bundle.")
    if not isinstance(document.get("dsseEnvelope"), dict):
        raise EvidenceError("The model signature bundle has no DSSE envelope.")
