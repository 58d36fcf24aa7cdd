"""Model signatures made with model-signing's own EC-key signer, verified offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from approvals.evidence import EvidenceError
from approvals.evidence.model_signature import (
    key_fingerprint,
    load_model_signing,
    verify_model_signature,
)


def make_key(directory: Path, name: str) -> tuple[Path, bytes]:
    """A P-256 key pair: the private key file for the signer, the public PEM for us."""
    private = ec.generate_private_key(ec.SECP256R1())
    path = directory / f"{name}.pem"
    path.write_bytes(private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return path, public


@pytest.fixture
def model(tmp_path: Path) -> Path:
    model_dir = tmp_path / "model"
    (model_dir / "sub").mkdir(parents=True)
    (model_dir / "config.json").write_text('{"hidden_size": 4}')
    (model_dir / "model.safetensors").write_bytes(b"\x00" * 64)
    (model_dir / "sub" / "tokenizer.json").write_text('{"vocab": ["a", "b"]}')
    return model_dir


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, tuple[Path, bytes]]:
    keydir = tmp_path / "keys"
    keydir.mkdir()
    return {name: make_key(keydir, name) for name in ("ci", "other")}


@pytest.fixture
def signature(tmp_path: Path, model: Path, keys: dict[str, tuple[Path, bytes]]) -> Path:
    path = tmp_path / "model.sig"
    load_model_signing().signing.Config().use_elliptic_key_signer(private_key=keys["ci"][0]).sign(
        model, path
    )
    return path


def test_signed_model_verifies(model: Path, signature: Path, keys: dict) -> None:
    public = keys["ci"][1]
    report = verify_model_signature(model, signature, public_keys=[public])
    assert report.verified is True
    assert report.signer == key_fingerprint(public)
    assert report.errors == []


def test_each_registered_key_is_tried(model: Path, signature: Path, keys: dict) -> None:
    report = verify_model_signature(model, signature, public_keys=[keys["other"][1], keys["ci"][1]])
    assert report.verified is True
    assert report.signer == key_fingerprint(keys["ci"][1])


def test_tampered_file_fails(model: Path, signature: Path, keys: dict) -> None:
    (model / "model.safetensors").write_bytes(b"\x01" + b"\x00" * 63)
    report = verify_model_signature(model, signature, public_keys=[keys["ci"][1]])
    assert report.verified is False
    assert report.signer is None
    assert any("model.safetensors" in error for error in report.errors), report.errors


def test_added_file_fails(model: Path, signature: Path, keys: dict) -> None:
    (model / "extra.pkl").write_bytes(b"\x80\x04N.")
    report = verify_model_signature(model, signature, public_keys=[keys["ci"][1]])
    assert report.verified is False


def test_unknown_key_fails(model: Path, signature: Path, keys: dict) -> None:
    report = verify_model_signature(model, signature, public_keys=[keys["other"][1]])
    assert report.verified is False
    assert report.signer is None
    assert len(report.errors) == 1


def test_no_registered_keys_fails(model: Path, signature: Path) -> None:
    report = verify_model_signature(model, signature, public_keys=[])
    assert report.verified is False


def test_forged_signature_bytes_fail(model: Path, signature: Path, keys: dict) -> None:
    bundle = json.loads(signature.read_text())
    sig = bundle["dsseEnvelope"]["signatures"][0]["sig"]
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = ("A" if sig[0] != "A" else "B") + sig[1:]
    signature.write_text(json.dumps(bundle))
    report = verify_model_signature(model, signature, public_keys=[keys["ci"][1]])
    assert report.verified is False


def test_unusable_keys_are_reported_not_fatal(model: Path, signature: Path, keys: dict) -> None:
    ed_pem = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    report = verify_model_signature(
        model, signature, public_keys=[b"not a key", ed_pem, keys["ci"][1]]
    )
    assert report.verified is True
    report = verify_model_signature(model, signature, public_keys=[b"not a key", ed_pem])
    assert report.verified is False
    assert len(report.errors) == 2


def test_symlink_in_model_is_refused(
    tmp_path: Path, model: Path, signature: Path, keys: dict
) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("server secret")
    (model / "link").symlink_to(outside)
    with pytest.raises(EvidenceError, match="symlink"):
        verify_model_signature(model, signature, public_keys=[keys["ci"][1]])


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage", b"[]", b'{"a": 1, "a": 2}', b"[" * 100_000, b'{"mediaType": "x"}'],
)
def test_garbage_signature_raises(tmp_path: Path, model: Path, keys: dict, content: bytes) -> None:
    path = tmp_path / "bad.sig"
    path.write_bytes(content)
    with pytest.raises(EvidenceError):
        verify_model_signature(model, path, public_keys=[keys["ci"][1]])


def test_model_signing_imports_without_leaving_a_fake_openssl() -> None:
    import sys

    assert load_model_signing().verifying.Config is not None
    assert "OpenSSL" not in sys.modules or hasattr(sys.modules["OpenSSL"], "__file__")


def test_missing_inputs_raise(tmp_path: Path, model: Path, signature: Path) -> None:
    with pytest.raises(EvidenceError):
        verify_model_signature(tmp_path / "absent", signature, public_keys=[])
    with pytest.raises(EvidenceError):
        verify_model_signature(model, tmp_path / "absent.sig", public_keys=[])
