from __future__ import annotations

import io
import json
from pathlib import Path

import factory

from approvals import services
from approvals.choices import RequestState
from approvals.models import GovernancePolicy, PromotionRequest, SignOff, WebhookEndpoint
from audit.models import AuditEvent
from registry import services as registry_services
from registry.models import ModelVersion
from tests.registry.factories import (
    ModelVersionFactory,
    UserFactory,
    ready_version,
    service_account_with_token,
)

SAMPLES = Path(__file__).parent / "samples"
BOARD_ROLES = {"platform": 1, "product": 1, "security": 1}


def provenance_statement(checksum: str, *, name: str = "artifact") -> dict:
    """An unsigned in-toto Statement v1 with SLSA provenance naming ``checksum``."""
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": checksum}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://ci.example/build/v1",
                "externalParameters": {},
            },
            "runDetails": {"builder": {"id": "https://ci.example/builder"}},
        },
    }


# The test CI's provenance signing key: fixed, so every test signs with the same key and
# trusts it through one ``TrustedSigningKey`` row (``trust_ci_signing_key``).
_CI_SIGNING_SEED = bytes(range(32))
CI_SIGNING_KEYID = "ci-test-signing-key"


def ci_signer():
    """A securesystemslib signer for the test CI's Ed25519 provenance key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from securesystemslib.signer import CryptoSigner, SSlibKey

    private = Ed25519PrivateKey.from_private_bytes(_CI_SIGNING_SEED)
    public = SSlibKey.from_crypto(private.public_key(), keyid=CI_SIGNING_KEYID, scheme="ed25519")
    return CryptoSigner(private, public)


def ci_signing_public_pem() -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return (
        ci_signer()
        ._private_key.public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def trust_ci_signing_key():
    """Register the test CI's key as a trusted provenance signer (idempotent)."""
    from approvals.models import TrustedSigningKey

    key, _ = TrustedSigningKey.objects.get_or_create(
        keyid=CI_SIGNING_KEYID,
        defaults={"public_key_pem": ci_signing_public_pem(), "description": "test CI"},
    )
    return key


def signed_provenance(checksum: str, *, name: str = "artifact", trust: bool = True) -> dict:
    """``provenance_statement(checksum)`` in a DSSE envelope signed by the test CI's key
    (trusted in the database unless ``trust=False``)."""
    from securesystemslib.dsse import Envelope

    from approvals.evidence.provenance import IN_TOTO_PAYLOAD_TYPE

    if trust:
        trust_ci_signing_key()
    envelope = Envelope(
        payload=json.dumps(provenance_statement(checksum, name=name)).encode(),
        payload_type=IN_TOTO_PAYLOAD_TYPE,
        signatures={},
    )
    envelope.sign(ci_signer())
    return envelope.to_dict()


def eval_package(version: ModelVersion, **overrides) -> dict:
    package = json.loads((SAMPLES / "eval-passing.json").read_bytes())
    package["checkpoint_id"] = version.checksum
    package.update(overrides)
    return package


def attach(version: ModelVersion, kind: str, content: bytes | dict, *, actor=None):
    """Attach one evidence document through the registry service (as the team's CI)."""
    if actor is None:
        actor = ci_user(version.registered_model.team)
    if isinstance(content, dict):
        content = json.dumps(content).encode()
    return registry_services.evidence_attach(
        actor=actor,
        version=version,
        kind=kind,
        content=io.BytesIO(content),
        media_type="application/json",
    )


def passing_evidence_documents(version: ModelVersion) -> dict[str, bytes | dict]:
    """Everything the checks need to pass: SBOM, provenance, dependency and artifact
    scans, an eval package for this checkpoint (real sample files where they exist)."""
    return {
        "sbom": (SAMPLES / "sbom-cyclonedx-1.6.json").read_bytes(),
        # Signed: for an artifact the server cannot read, only a trusted signature vouches
        # for its checksum (the artifact_checksum check).
        "provenance": signed_provenance(version.checksum),
        "dependency_scan": (SAMPLES / "pip-audit-clean.json").read_bytes(),
        "artifact_scan": (SAMPLES / "artifacts" / "modelscan-report-benign.json").read_bytes(),
        "eval_package": eval_package(version),
    }


def attach_passing_evidence(version: ModelVersion, *, skip: tuple[str, ...] = ()) -> None:
    """Attach ``passing_evidence_documents`` through the registry service, as the team's CI."""
    actor = ci_user(version.registered_model.team)
    for kind, content in passing_evidence_documents(version).items():
        if kind not in skip:
            attach(version, kind, content, actor=actor)


_CI_USERS: dict[int, object] = {}


def ci_user(team):
    """The team's CI service-account user (one per team)."""
    from registry.models import ServiceAccount

    account = ServiceAccount.objects.filter(teams=team, name__startswith="ci-").first()
    if account is None:
        account, _ = service_account_with_token(teams=[team])
    return account.user


def board_policy(team, roles: dict[str, int] | None = None) -> GovernancePolicy:
    """A team-scoped policy (selected over the default by team) with the given quorum;
    by default the three-member board (platform, product, security) of the foundation."""
    roles = roles or BOARD_ROLES
    policy, _ = GovernancePolicy.objects.get_or_create(
        name=f"board-{team.slug}",
        version=1,
        defaults={
            "team_slugs": [team.slug],
            "required_roles": roles,
            "review_steps": _default_policy().review_steps,
            "checks": _default_policy().checks,
        },
    )
    return policy


def run_checks(request: PromotionRequest) -> PromotionRequest:
    """What the worker does after submit: run the automated checks of the request."""
    services.promotion_request_run_checks(request_id=request.pk, via="test worker")
    request.refresh_from_db()
    return request  # a no-op when the checks already ran inline


def request_in_review(
    version: ModelVersion | None = None, *, roles: dict[str, int] | None = None, **kwargs
) -> PromotionRequest:
    """A promotion request that passed its checks, submitted by the team's CI, judged by a
    team policy requiring ``roles`` (default: platform, product and security, one each)."""
    version = version or ready_version(**kwargs)
    team = version.registered_model.team
    board_policy(team, roles)
    attach_passing_evidence(version)
    request = services.promotion_request_submit(actor=ci_user(team), version=version)
    request = run_checks(request) if request.state == "submitted" else request
    assert request.state == "in_review", request.reasons
    return request


def governance_row_counts() -> dict[str, int]:
    """Row counts of everything a refused operation must leave untouched."""
    return {
        "versions": ModelVersion.objects.count(),
        "requests": PromotionRequest.objects.count(),
        "signoffs": SignOff.objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }


def _default_policy() -> GovernancePolicy:
    return GovernancePolicy.objects.get(is_default=True)


class PromotionRequestFactory(factory.django.DjangoModelFactory):
    """A request built directly in a given state (bulk fixtures such as admin lists only).

    Real requests go through ``approvals.services.promotion_request_submit``; this skips
    the checks and the audit trail, so use it only where those are not under test.
    """

    class Meta:
        model = PromotionRequest

    version = factory.SubFactory(ModelVersionFactory)
    # As the services copy it at opening (approvals.services.requests.open_request).
    team = factory.LazyAttribute(lambda o: o.version.registered_model.team)
    policy = factory.LazyFunction(_default_policy)
    policy_snapshot = factory.LazyAttribute(lambda o: o.policy.snapshot())
    state = RequestState.IN_REVIEW
    requested_by = factory.SubFactory(UserFactory)


class SignOffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SignOff

    request = factory.SubFactory(PromotionRequestFactory)
    role = "platform"
    signer = factory.SubFactory(UserFactory)
    signed_checksum = factory.LazyAttribute(lambda o: o.request.version.checksum)


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    """An active endpoint for every event; by default nothing listens at its address."""

    class Meta:
        model = WebhookEndpoint

    name = factory.Sequence(lambda n: f"endpoint-{n}")
    url = "http://127.0.0.1:9/"
    secret = factory.Sequence(lambda n: f"secret-{n}")
