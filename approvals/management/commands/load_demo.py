"""Realistic demo data for `make run`: teams, people for every role, models in every state.

Demo mode only (GOVBOARD_DEMO=1, never with production settings): it creates accounts with
fresh random passwords, printed once at the end. Everything is written through the
services, so the demo's audit trail and history look exactly like real use.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import uuid
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner, SSlibKey

from approvals import services as approvals_services
from approvals.apps import (
    AUDITOR_GROUP,
    BOARD_GROUP,
    MANAGER_GROUP,
    ROLE_GROUPS,
    top_up_auditor_group,
    top_up_role_groups,
)
from approvals.evidence.provenance import IN_TOTO_PAYLOAD_TYPE
from approvals.models import (
    GovernancePolicy,
    PromotionRequest,
    TrustedSigningKey,
    WebhookEndpoint,
)
from core.team_roles import MANAGE, REGISTER, VIEW, role_permission
from registry import services as registry_services
from registry.choices import DatasetUse, TokenScope
from registry.models import (
    Dataset,
    DatasetVersion,
    ModelVersion,
    RegisteredModel,
    ServiceAccount,
    Team,
    VersionDataset,
)

User = get_user_model()

PEOPLE = {
    # username: (description, team roles, groups)
    "admin": ("administrator (superuser)", [], []),
    "priya": ("platform approver", [role_permission("platform")], [BOARD_GROUP]),
    "omar": ("product approver", [role_permission("product")], [BOARD_GROUP]),
    "sofia": ("security approver", [role_permission("security")], [BOARD_GROUP]),
    "maria": (
        "governance manager",
        [MANAGE, VIEW],
        [MANAGER_GROUP],
    ),
    "ada": ("auditor (read-only, every team)", [], [AUDITOR_GROUP]),
    "oliver": ("model owner", [REGISTER, VIEW], [BOARD_GROUP]),
    "bea": ("backup owner", [VIEW], [BOARD_GROUP]),
}
TEAMS = {"assistants": "Assistants platform", "vision": "Vision inspection"}


def _checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# The demo pipeline's provenance key, derived from a label (like the development decision
# key) so every demo install signs the same way; it is trusted only in demo data.
DEMO_CI_KEY_LABEL = b"govboard DEMO CI provenance key -- NOT FOR PRODUCTION"
DEMO_CI_KEYID = "demo-ci-provenance"


def _demo_ci_signer() -> CryptoSigner:
    private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(DEMO_CI_KEY_LABEL).digest())
    public = SSlibKey.from_crypto(private.public_key(), keyid=DEMO_CI_KEYID, scheme="ed25519")
    return CryptoSigner(private, public)


def _trust_demo_ci_key() -> None:
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


def _evidence_documents(version: ModelVersion, *, quality: float = 0.91) -> dict[str, dict]:
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
        # Signed by the demo CI's key (trusted by ``_trust_demo_ci_key``): for an artifact
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


class Command(BaseCommand):
    help = "Load demo teams, users, models and requests (demo mode only) and print the logins."

    def handle(self, *args, **options):
        if not settings.GOVBOARD_DEMO or not settings.DEBUG:
            raise CommandError("Demo data is only loaded in demo mode (GOVBOARD_DEMO=1, DEBUG).")
        passwords = {username: secrets.token_urlsafe(9) for username in PEOPLE}
        with transaction.atomic():
            people = self._people(passwords)
            if not Team.objects.filter(slug="assistants").exists():
                self._catalog(people, passwords)
            token = self._demo_token(people["admin"])
        self._print(passwords, token)

    def _demo_token(self, admin: object) -> str:
        """A fresh CI token every start (the raw secret is never stored, so never re-shown)."""
        account = ServiceAccount.objects.get(name="ci-assistants")
        _, raw = registry_services.api_token_issue(
            actor=admin,
            service_account=account,
            label="demo",
            scopes=list(TokenScope.values),
            expires_at=timezone.now() + timedelta(days=30),
        )
        return raw

    # --- people -----------------------------------------------------------------------

    def _people(self, passwords: dict[str, str]) -> dict[str, object]:
        groups = self._groups()
        people = {}
        for username, (description, _, group_names) in PEOPLE.items():
            user, _ = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@demo.govboard.invalid"}
            )
            user.first_name = description
            user.is_staff = True
            user.is_superuser = username == "admin"
            user.set_password(passwords[username])
            user.save()
            user.groups.set([groups[name] for name in group_names])
            people[username] = user
        return people

    def _groups(self) -> dict[str, Group]:
        # The groups every installation has (approvals migrations 0005 and 0006), not demo
        # copies; made again the same way should someone have deleted one.
        groups = {
            name: Group.objects.get_or_create(name=name)[0]
            for name in (*ROLE_GROUPS, AUDITOR_GROUP)
        }
        top_up_auditor_group(django_apps)
        top_up_role_groups(django_apps)
        return groups

    # --- catalog ----------------------------------------------------------------------

    def _catalog(self, people: dict, passwords: dict[str, str]) -> None:
        admin = people["admin"]
        teams = {slug: Team.objects.create(slug=slug, name=name) for slug, name in TEAMS.items()}
        for team in teams.values():
            for username, (_, perms, _) in PEOPLE.items():
                for perm in perms:
                    registry_services.team_role_grant(
                        actor=admin, user=people[username], permission=perm, team=team
                    )
        account = registry_services.service_account_create(
            actor=admin, name="ci-assistants", teams=list(teams.values())
        )
        ci = account.user
        _trust_demo_ci_key()
        # Each demo team's board (platform, product, security) judges its versions under
        # the release runbook, with metric thresholds; the default policy stays as seeded.
        runbook = approvals_services.default_policy()
        for team in teams.values():
            GovernancePolicy.objects.create(
                name=f"board-{team.slug}",
                description=f"The {team.name} board: the release runbook, three sign-offs.",
                team_slugs=[team.slug],
                required_roles={"platform": 1, "product": 1, "security": 1},
                review_steps=runbook.review_steps,
                checks=runbook.checks,
                metric_thresholds={"quality": {"min": 0.85}, "toxicity": {"max": 0.01}},
            )
        WebhookEndpoint.objects.create(
            name="routing",
            url="http://127.0.0.1:9/govboard-events",
            secret=secrets.token_urlsafe(24),
        )
        signers = {
            "platform": people["priya"],
            "product": people["omar"],
            "security": people["sofia"],
        }

        def model(team: str, name: str, kind: str) -> RegisteredModel:
            registered, _ = registry_services.registered_model_upsert(
                actor=ci,
                team=teams[team],
                name=name,
                kind=kind,
                owner=people["oliver"],
                backup_owner=people["bea"],
                escalation_contact=f"{team}-oncall@demo.govboard.invalid",
                description=f"Demo {kind} of the {team} team.",
            )
            return registered

        datasets = {}
        for team in teams.values():
            now = timezone.now()
            for name, use in (
                ("support-tickets", DatasetUse.TRAIN),
                ("golden-eval", DatasetUse.EVAL),
            ):
                dataset = Dataset.objects.create(team=team, name=name)
                datasets[(team.slug, use)] = DatasetVersion.objects.create(
                    dataset=dataset,
                    version="2026-10",
                    checksum=_checksum(name + team.slug),
                    uri=f"s3://{team.slug}-data/{name}/2026-10/",
                    window_start=now - timedelta(days=120),
                    window_end=now - timedelta(days=30),
                )

        def version(
            registered: RegisteredModel,
            number: str,
            *,
            base=None,
            complete=True,
            method="lora",
            quality=0.91,
        ):
            metadata = {}
            if complete:
                metadata = {
                    "license": "apache-2.0",
                    "allowed_use_cases": ["customer support drafting"],
                    "prohibited_use_cases": ["medical advice", "credit decisions"],
                    "risk_rating": "medium",
                    "mitigation_controls": ["human review of outputs", "PII redaction"],
                    "source_commit": _checksum(registered.name + number)[:40],
                    "dependency_lock_hash": _checksum("lock" + number),
                    "fine_tune_method": method,
                }
                if base is not None:
                    metadata["base_model_version"] = base
                elif method != "none":
                    metadata["base_model_reference"] = "hf://meta-llama/Llama-3.1-8B@8c22764"
            created, _ = registry_services.version_register(
                actor=ci,
                registered_model=registered,
                version=number,
                checksum=_checksum(f"{registered.name}-{number}"),
                storage_uri=f"s3://{registered.team.slug}-models/{registered.name}/{number}/",
                **metadata,
            )
            if complete:
                for use in (DatasetUse.TRAIN, DatasetUse.EVAL):
                    if use == DatasetUse.TRAIN and registered.kind == "prompt":
                        continue
                    # Demo-only wiring; CI links datasets through the API.
                    VersionDataset.objects.create(
                        model_version=created,
                        dataset_version=datasets[(registered.team.slug, use)],
                        use=use,
                    )
                for kind, document in _evidence_documents(created, quality=quality).items():
                    registry_services.evidence_attach(
                        actor=ci,
                        version=created,
                        kind=kind,
                        content=io.BytesIO(json.dumps(document).encode()),
                        media_type="application/json",
                        client_filename=f"{kind}.json",
                    )
            return created

        def submit(created: ModelVersion, rollback=None) -> PromotionRequest:
            request = approvals_services.promotion_request_submit(
                actor=ci,
                version=created,
                rollback_target=rollback,
                rollback_plan="Route traffic back to the previous approved version."
                if rollback
                else "",
            )
            # The demo runs the checks itself rather than waiting for a worker.
            return approvals_services.promotion_request_run_checks(
                request_id=request.pk, via="demo loader"
            )

        def sign(request: PromotionRequest, roles: list[str]) -> None:
            for role in roles:
                signer = signers[role]
                approvals_services.signoff_record(
                    actor=signer, request=request, role=role, password=passwords[signer.username]
                )

        # Base model: retired, deprecated and approved versions.
        base = model("assistants", "llama-support-base", "model")
        old = version(base, "0.9.0", method="full")
        sign(submit(old), ["platform", "product", "security"])
        mid = version(base, "0.9.5", method="full")
        sign(submit(mid, rollback=old), ["platform", "product", "security"])
        current = version(base, "1.0.0", method="full")
        sign(submit(current, rollback=mid), ["platform", "product", "security"])
        approvals_services.version_deprecate(
            actor=people["maria"], version=old, reason="Superseded by 1.0.0."
        )
        approvals_services.version_retire(
            actor=people["maria"], version=old, reason="Grace period over."
        )
        approvals_services.version_deprecate(
            actor=people["maria"], version=mid, reason="Superseded by 1.0.0."
        )

        # LoRA adapter: approved, in review waiting for platform, draft with failed checks.
        adapter = model("assistants", "support-lora", "adapter")
        first = version(adapter, "1.0.0", base=current)
        sign(submit(first), ["platform", "product", "security"])
        sign(
            submit(version(adapter, "1.1.0", base=current), rollback=first), ["product", "security"]
        )
        submit(version(adapter, "1.2.0-rc.1", base=current, complete=False))
        version(adapter, "1.2.0", base=current)

        # Prompt template: waiting for product.
        prompt = model("assistants", "support-prompt", "prompt")
        sign(submit(version(prompt, "2.0.0", method="none")), ["platform", "security"])

        # Vision: waiting for security.
        vision = model("vision", "defect-detector", "model")
        sign(submit(version(vision, "3.1.0", method="full")), ["platform", "product"])

        # Vision: a German-locale quality miss (non-critical), accepted by the governance
        # manager as a time-boxed exception; the board signs and a decision record is made.
        segmenter = model("vision", "surface-segmenter", "model")
        missed = submit(version(segmenter, "0.4.0", method="full", quality=0.88))
        sign(missed, ["platform", "product", "security"])
        approvals_services.check_override(
            actor=people["maria"],
            request=missed,
            check_name="eval_thresholds",
            justification="German-locale quality is 0.84 against 0.85; accepted for the "
            "pilot while the next fine-tune adds German data.",
            expires_at=timezone.now() + timedelta(days=30),
        )

    def _print(self, passwords: dict[str, str], token: str) -> None:
        self.stdout.write(
            self.style.SUCCESS(f"\ngovboard demo is ready: {settings.GOVBOARD_PUBLIC_URL}/admin/")
        )
        self.stdout.write("Demo logins (fresh passwords every start; demo mode only):")
        for username, (description, _, _) in PEOPLE.items():
            self.stdout.write(f"  {username:<8} {passwords[username]:<14} {description}")
        self.stdout.write(f"CI token for service account ci-assistants (shown once): {token}")
        self.stdout.write(f"API docs: {settings.GOVBOARD_PUBLIC_URL}/api/docs/\n")
