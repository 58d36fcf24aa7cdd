"""Proof bundles, checked by tools/verify_audit_export.py in a Python that has nothing but
``cryptography`` (a venv without pip; cryptography and its cffi backend linked in)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import cryptography
import pytest

from audit.services import audit_log_seal
from audit.transparency.bundle import proof_bundle
from audit.transparency.heads import head_message
from audit.transparency.merkle import leaf_hash, verify_inclusion
from tests.audit.transparency.conftest import add_events

VERIFIER = Path(__file__).resolve().parents[3] / "tools" / "verify_audit_export.py"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def cryptography_only_python(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("cryptography-only")
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run(
        [base, "-m", "venv", "--without-pip", str(home / "venv")], check=True, timeout=120
    )
    python = home / "venv" / "bin" / "python3"
    packages = Path(cryptography.__file__).resolve().parent.parent
    only = home / "only"
    only.mkdir()
    (only / "cryptography").symlink_to(packages / "cryptography")
    for backend in packages.glob("_cffi_backend*"):
        (only / backend.name).symlink_to(backend)
    venv_site = subprocess.run(
        [python, "-c", "import site; print(site.getsitepackages()[0])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (Path(venv_site) / "only_cryptography.pth").write_text(f"{only}\n")
    probe = subprocess.run([python, "-I", "-c", "import django"], capture_output=True)
    assert probe.returncode != 0, "the verifier's Python must not see Django"
    return python


def run_verifier(python: Path, document: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    export = tmp_path / "export.json"
    export.write_text(json.dumps(document))
    return subprocess.run(
        [python, "-I", str(VERIFIER), str(export)], capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def bundle(db, heads_dir, django_capture_on_commit_callbacks):
    events = add_events(6)
    with django_capture_on_commit_callbacks(execute=True):
        audit_log_seal(now=NOW)
    (unsealed,) = add_events(1)
    rows = [("audit_auditevent", str(event.pk)) for event in events[1:4]]
    return proof_bundle([*rows, ("audit_auditevent", str(unsealed.pk))])


def test_a_bundle_proves_each_sealed_row_and_lists_the_unsealed(bundle):
    head = bundle["tree_head"]
    assert bundle["format"] == "govboard-audit-bundle/1"
    assert len(bundle["entries"]) == 3 and len(bundle["unsealed"]) == 1
    for entry in bundle["entries"]:
        proof = [bytes.fromhex(node) for node in entry["inclusion_proof"]]
        assert verify_inclusion(
            leaf_hash(entry["canonical"].encode()), entry["leaf_index"], head["size"], proof,
            bytes.fromhex(head["root_hash"]),
        )  # fmt: skip
    json.dumps(bundle)


def test_the_standalone_verifier_accepts_a_clean_bundle(bundle, cryptography_only_python, tmp_path):
    result = run_verifier(cryptography_only_python, bundle, tmp_path)
    head = bundle["tree_head"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        f"verified 3 entries against tree head size {head['size']} root {head['root_hash']}"
    )


def test_one_flipped_character_in_a_canonical_field_is_named(
    bundle, cryptography_only_python, tmp_path
):
    entry = bundle["entries"][1]
    entry["canonical"] = entry["canonical"].replace("ünïcode", "ünïcodE")
    result = run_verifier(cryptography_only_python, bundle, tmp_path)
    assert result.returncode == 1
    assert (
        f"FAILED: entry 1 (audit_auditevent pk {entry['pk']}, leaf {entry['leaf_index']})"
        in result.stderr
    )


def test_a_report_citing_an_event_other_than_its_proof_fails(
    bundle, cryptography_only_python, tmp_path
):
    cited = dict(bundle["entries"][0])
    report = {"title": "who approved", "events": [cited], "proofs": bundle}
    assert run_verifier(cryptography_only_python, report, tmp_path).returncode == 0

    cited["canonical"] = cited["canonical"].replace("system:test", "user:mallory")
    result = run_verifier(cryptography_only_python, report, tmp_path)
    assert result.returncode == 1
    assert f"the report's audit_auditevent pk {cited['pk']} differs from its proof" in result.stderr


def test_a_head_signed_by_another_key_is_refused(bundle, cryptography_only_python, tmp_path):
    bundle["tree_head"]["size"] += 1
    result = run_verifier(cryptography_only_python, bundle, tmp_path)
    assert result.returncode == 1
    assert "does not verify" in result.stderr


def test_the_verifier_and_the_server_build_the_same_signed_bytes(bundle):
    sys.path.insert(0, str(VERIFIER.parent))
    try:
        import verify_audit_export as standalone
    finally:
        sys.path.remove(str(VERIFIER.parent))
    head = bundle["tree_head"]
    args = (head["size"], head["root_hash"], head["timestamp"], head["key_id"])
    assert standalone.head_message(*args) == head_message(*args)
    assert standalone.leaf_hash(b"row") == leaf_hash(b"row")


@pytest.mark.django_db
def test_an_unknown_table_is_refused():
    with pytest.raises(ValueError, match="'registry_team' is not a table the audit log seals"):
        proof_bundle([("registry_team", "1")])


def test_a_pinned_server_key_verifies_and_another_pinned_key_fails(
    bundle, cryptography_only_python, tmp_path
):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from core.signing_key import signing_public_key_raw

    export = tmp_path / "export.json"
    export.write_text(json.dumps(bundle))
    pem = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    server, other = tmp_path / "server.pem", tmp_path / "other.pem"
    server.write_bytes(signing_public_key_raw().public_bytes(*pem))
    other.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(*pem))

    def run(key):
        command = [cryptography_only_python, "-I", str(VERIFIER), str(export), "--public-key", key]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    assert run(str(server)).returncode == 0
    refused = run(str(other))
    assert refused.returncode == 1 and "does not verify" in refused.stderr
