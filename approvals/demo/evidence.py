"""What the demo's CI uploads: SBOM, signed provenance, scans and an eval package, signed
with a demo-only key the demo data trusts."""

from __future__ import annotations

import hashlib
import json
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner, SSlibKey

from approvals.evidence.provenance import IN_TOTO_PAYLOAD_TYPE
from approvals.models import TrustedSigningKey
from registry.models import ModelVersion


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# The demo pipeline's provenance key, derived from a label (like the development decision
# key) so every demo install signs the same way; it is trusted only in demo data.
DEMO_CI_KEY_LABEL = b"govboard DEMO CI provenance key -- NOT FOR PRODUCTION"
DEMO_CI_KEYID = "demo-ci-provenance"


def _demo_ci_signer() -> CryptoSigner:
    private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(DEMO_CI_KEY_LABEL).digest())
    public = SSlibKey.from_crypto(private.public_key(), keyid=DEMO_CI_KEYID, scheme="ed25519")
    return CryptoSigner(private, public)


def trust_demo_ci_key() -> None:
    pem = (
        _demo_ci_signer()
        ._private_key.public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    TrustedSigningKey.objects.get_or_create(
        keyid=DEMO_CI_KEYID,
        defaults={"public_key_pem": pem, "description": "Demo CI provenance key (demo only)"},
    )


def _signed_provenance(version: ModelVersion) -> dict:
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": version.storage_uri, "digest": {"sha256": version.checksum}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://ci.demo.govboard.invalid/train/v1",
                "externalParameters": {"commit": version.source_commit},
            },
            "runDetails": {"builder": {"id": "https://ci.demo.govboard.invalid/runner"}},
        },
    }
    envelope = Envelope(
        payload=json.dumps(statement).encode(), payload_type=IN_TOTO_PAYLOAD_TYPE, signatures={}
    )
    envelope.sign(_demo_ci_signer())
    return envelope.to_dict()


def evidence_documents(version: ModelVersion, *, quality: float = 0.91) -> dict[str, dict]:
    """What a CI pipeline uploads: SBOM, provenance, scans and an eval package."""
    kind = version.registered_model.kind
    return {
        "sbom": {
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, version.checksum)}",
            "version": 1,
            "components": [
                {
                    "type": "library",
                    "bom-ref": "pkg:pypi/torch@2.5.1",
                    "name": "torch",
                    "version": "2.5.1",
                    "purl": "pkg:pypi/torch@2.5.1",
                }
            ],
        },
        # Signed by the demo CI's key (trusted by ``trust_demo_ci_key``): for an artifact
        # the server cannot read, only a trusted signature vouches for its checksum.
        "provenance": _signed_provenance(version),
        "dependency_scan": {
            "dependencies": [{"name": "torch", "version": "2.5.1", "vulns": []}],
            "fixes": [],
        },
        "artifact_scan": {
            "summary": {
                "total_issues": 0,
                "total_issues_by_severity": {},
                "modelscan_version": "0.8.5",
                "scanned": {"total_scanned": 1, "scanned_files": ["adapter.safetensors"]},
            },
            "issues": [],
            "errors": [],
        },
        "eval_package": {
            "checkpoint_id": version.checksum,
            "prompt_checksum": version.checksum if kind in ("prompt", "config") else None,
            "evaluated_at": "2026-10-30T12:00:00Z",
            "metrics": {"quality": quality, "toxicity": 0.004, "jailbreak_success_rate": 0.02},
            "segments": [
                {"name": "locale:en", "metrics": {"quality": quality + 0.01}},
                {"name": "locale:de", "metrics": {"quality": quality - 0.04}},
            ],
        },
    }
