"""The demo's catalog: teams, a CI account, board policies, and models with versions in
every lifecycle state and requests waiting for each board role."""

from __future__ import annotations

import io
import json
import secrets
from datetime import timedelta

from django.utils import timezone

from approvals import services as approvals_services
from approvals.demo.evidence import checksum, evidence_documents, trust_demo_ci_key
from approvals.demo.people import PEOPLE
from approvals.models import GovernancePolicy, PromotionRequest, WebhookEndpoint
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

TEAMS = {"assistants": "Assistants platform", "vision": "Vision inspection"}


def catalog_create(people: dict, passwords: dict[str, str]) -> None:
    """The demo teams, their CI account and board policies, and models with versions in
    every state, written through the services as the admin, CI and the board would."""
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
    trust_demo_ci_key()
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
                checksum=checksum(name + team.slug),
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
                "source_commit": checksum(registered.name + number)[:40],
                "dependency_lock_hash": checksum("lock" + number),
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
            checksum=checksum(f"{registered.name}-{number}"),
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
            for kind, document in evidence_documents(created, quality=quality).items():
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
    sign(submit(version(adapter, "1.1.0", base=current), rollback=first), ["product", "security"])
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


def demo_ci_token_issue(admin: object) -> str:
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
