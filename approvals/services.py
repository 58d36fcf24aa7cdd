"""Every state change of the approval workflow, one transaction each, audited inside it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from approvals.checks import BASELINE_CHECKS
from approvals.choices import OPEN_REQUEST_STATES, RequestState
from approvals.models import CheckResult, GovernancePolicy, PromotionRequest, SignOff
from audit.services import record
from govboard.errors import Conflict, IllegalTransition, InvalidInput, NotPermitted
from registry import permissions
from registry import services as registry_services
from registry.choices import VersionState
from registry.models import ModelVersion


def default_policy() -> GovernancePolicy:
    policy = GovernancePolicy.objects.filter(is_default=True).first()
    if policy is None:
        raise Conflict("No default governance policy is configured.")
    return policy


def _locked_request(request: PromotionRequest | int) -> PromotionRequest:
    pk = request.pk if isinstance(request, PromotionRequest) else request
    return (
        PromotionRequest.objects.select_for_update(of=("self",))
        .select_related("version__registered_model__team")
        .get(pk=pk)
    )


def _transition_request(request: PromotionRequest, transition: str) -> str:
    before = request.state
    try:
        getattr(request, transition)()
    except TransitionNotAllowed as exc:
        raise IllegalTransition(
            f"A {before} promotion request cannot be moved by '{transition}'."
        ) from exc
    return before


@transaction.atomic
def promotion_request_submit(
    *,
    actor: Any,
    version: ModelVersion | int,
    rollback_target: ModelVersion | None = None,
    rollback_plan: str = "",
) -> PromotionRequest:
    """Open a promotion request for a draft version and run the baseline checks.

    All checks pass → the request is ``in_review`` and the version ``candidate``.
    Any check fails → the request is ``changes_requested`` with the reasons, the version
    stays ``draft``. Either way every check result is stored with what it saw.
    """
    pk = version.pk if isinstance(version, ModelVersion) else version
    locked = (
        ModelVersion.objects.select_for_update(of=("self",))
        .select_related("registered_model__team")
        .get(pk=pk)
    )
    team = locked.registered_model.team
    if not permissions.can_register_for_team(actor, team):
        raise NotPermitted("You may not request promotion for this team's versions.")
    if locked.state != VersionState.DRAFT:
        raise IllegalTransition(
            f"Only a draft version can be submitted for promotion; this one is {locked.state}."
        )
    if rollback_target is not None and rollback_target.pk == locked.pk:
        raise InvalidInput("A version cannot be its own rollback target.")
    policy = default_policy()
    request = PromotionRequest(
        version=locked,
        policy=policy,
        policy_snapshot=policy.snapshot(),
        requested_by=actor,
        rollback_target=rollback_target,
        rollback_plan=rollback_plan,
    )
    try:
        with transaction.atomic():
            request.save()
    except IntegrityError as exc:
        raise Conflict("This version already has an open promotion request.") from exc
    record(
        actor=actor,
        verb="promotion.submitted",
        target=request,
        team_id=team.pk,
        data={
            "version": locked.pk,
            "policy": policy.snapshot(),
            "rollback_target": rollback_target.pk if rollback_target else None,
        },
    )
    _run_baseline_checks(actor=actor, request=request, version=locked)
    return request


def _run_baseline_checks(*, actor: Any, request: PromotionRequest, version: ModelVersion) -> None:
    approved_ids = list(
        ModelVersion.objects.filter(
            registered_model_id=version.registered_model_id, state=VersionState.APPROVED
        ).values_list("id", flat=True)
    )
    dataset_uses = list(version.dataset_links.values_list("use", flat=True))
    outcomes = [
        check(
            version,
            rollback_target=request.rollback_target,
            approved_ids=approved_ids,
            dataset_uses=dataset_uses,
        )
        for check in BASELINE_CHECKS
    ]
    # Check results are append-only rows without simple-history (the audit event below
    # carries them), so one multi-row insert is allowed here.
    CheckResult.objects.bulk_create(
        CheckResult(
            request=request,
            check_name=outcome.name,
            passed=outcome.passed,
            critical=outcome.critical,
            detail=outcome.detail,
            observed=outcome.observed,
        )
        for outcome in outcomes
    )
    failures = [outcome for outcome in outcomes if not outcome.passed]
    before = _transition_request(request, "start_checks")
    if failures:
        _transition_request(request, "request_changes")
        request.reasons = [f"{outcome.name}: {outcome.detail}" for outcome in failures]
    else:
        _transition_request(request, "enter_review")
        request.reasons = []
    request.save()
    record(
        actor=actor,
        verb="promotion.checked",
        target=request,
        team_id=version.registered_model.team_id,
        data={
            "before": {"state": before},
            "after": {"state": request.state},
            "checks": [
                {"name": o.name, "passed": o.passed, "critical": o.critical, "detail": o.detail}
                for o in outcomes
            ],
        },
    )
    if not failures:
        registry_services.version_mark_candidate(
            actor=actor, version=version, request_id=request.pk
        )


def _quorum_met(required: dict[str, int], signed_roles: list[str]) -> bool:
    return all(signed_roles.count(role) >= quorum for role, quorum in required.items())


@transaction.atomic
def signoff_record(
    *,
    actor: Any,
    request: PromotionRequest | int,
    role: str,
    password: str,
    meaning: str = "Approved for production promotion",
) -> SignOff:
    """A board member signs for one role, after re-entering their password.

    Refused when: the password is wrong, the request is not in review, the role is not
    required by the request's policy or its quorum is already met, the signer lacks the
    object permission for the role on the model's team, the signer requested the promotion,
    or the signer already signed this request (for any role). When the last required
    sign-off lands, the request and the version become ``approved``.
    """
    if not password or not actor.check_password(password):
        raise NotPermitted("Re-authentication failed: enter your password to sign.")
    locked = _locked_request(request)
    version = locked.version
    team = version.registered_model.team
    required: dict[str, int] = locked.policy_snapshot["required_roles"]
    if not permissions.can_sign_for_role(actor, team, role):
        raise NotPermitted(f"You do not hold the {role} approver role for team {team.slug}.")
    if locked.state != RequestState.IN_REVIEW:
        raise IllegalTransition(
            f"The request is {locked.state}; only requests in review can be signed."
        )
    if role not in required:
        raise InvalidInput(f"The policy does not require a {role} sign-off.")
    if actor.pk == locked.requested_by_id:
        raise NotPermitted("Separation of duties: the requester cannot sign their own request.")
    existing = list(SignOff.objects.filter(request=locked).values_list("role", "signer_id"))
    if any(signer_id == actor.pk for _, signer_id in existing):
        raise NotPermitted("Separation of duties: you have already signed this request.")
    signed_roles = [existing_role for existing_role, _ in existing]
    if signed_roles.count(role) >= required[role]:
        raise Conflict(f"The {role} sign-off quorum is already met.")
    signoff = SignOff.objects.create(
        request=locked,
        role=role,
        signer=actor,
        signed_checksum=version.checksum,
        meaning=meaning,
    )
    record(
        actor=actor,
        verb="promotion.signed",
        target=locked,
        team_id=team.pk,
        data={
            "role": role,
            "signoff": signoff.pk,
            "checksum": version.checksum,
            "meaning": meaning,
        },
    )
    signed_roles.append(role)
    if _quorum_met(required, signed_roles):
        _approve(actor=actor, request=locked, version=version)
    return signoff


def _approve(*, actor: Any, request: PromotionRequest, version: ModelVersion) -> None:
    before = _transition_request(request, "approve")
    now = timezone.now()
    request.decided_at = now
    request.save()
    validity = int(request.policy_snapshot.get("approval_validity_days", 90))
    expires_at = now + timedelta(days=validity)
    record(
        actor=actor,
        verb="promotion.approved",
        target=request,
        team_id=version.registered_model.team_id,
        data={
            "before": {"state": before},
            "after": {"state": request.state},
            "approval_expires_at": expires_at.isoformat(),
        },
    )
    registry_services.version_approve(
        actor=actor, version=version, request_id=request.pk, expires_at=expires_at
    )


@transaction.atomic
def promotion_request_reject(
    *, actor: Any, request: PromotionRequest | int, reason: str
) -> PromotionRequest:
    """A board member of a required role rejects; the version goes back to draft."""
    if not reason.strip():
        raise InvalidInput("A reason is required to reject a request.")
    locked = _locked_request(request)
    team = locked.version.registered_model.team
    required = locked.policy_snapshot["required_roles"]
    if not any(permissions.can_sign_for_role(actor, team, role) for role in required):
        raise NotPermitted("Only an approver of a required role may reject this request.")
    before = _transition_request(locked, "reject")
    locked.decided_at = timezone.now()
    locked.reasons = [f"rejected: {reason}"]
    locked.save()
    record(
        actor=actor,
        verb="promotion.rejected",
        target=locked,
        team_id=team.pk,
        data={"before": {"state": before}, "after": {"state": locked.state}, "reason": reason},
    )
    registry_services.version_return_to_draft(
        actor=actor, version=locked.version, request_id=locked.pk, reason=f"rejected: {reason}"
    )
    return locked


def is_open(request: PromotionRequest) -> bool:
    return request.state in OPEN_REQUEST_STATES
