"""Helpers the approval services share: row locks, transitions and the sign-off binding.
The reads they decide on (evidence digests, sign-off validity, the approval gate) live in
``approvals.assessment``, which selectors import too."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django_fsm import TransitionNotAllowed

from approvals.assessment import artifact_name
from approvals.models import PromotionRequest
from core.errors import IllegalTransition
from registry.models import ModelVersion


def locked_request(request: PromotionRequest | int) -> PromotionRequest:
    pk = request.pk if isinstance(request, PromotionRequest) else request
    return (
        PromotionRequest.objects.select_for_update(of=("self",))
        .select_related("version__registered_model__team")
        .get(pk=pk)
    )


def transition_request(request: PromotionRequest, transition: str) -> str:
    """Run an FSM transition (which only sets ``state``); return the state before."""
    before = request.state
    try:
        getattr(request, transition)()
    except TransitionNotAllowed as exc:
        raise IllegalTransition(
            f"A {before} promotion request cannot be moved by '{transition}'."
        ) from exc
    request.state_changed_at = timezone.now()
    return before


def signoff_binding(
    *,
    request: PromotionRequest,
    version: ModelVersion,
    role: str,
    signer: Any,
    meaning: str,
    digests: dict[str, str],
    signed_at: Any,
    reauth_method: str,
) -> dict[str, Any]:
    binding = {
        "type": "https://govboard.dev/signoff/v1",
        "request": request.pk,
        "version": version.pk,
        "artifact": artifact_name(version),
        "sha256": version.checksum,
        "evidence": digests,
        "policy": {
            "id": request.policy_snapshot.get("id"),
            "version": request.policy_snapshot.get("version"),
        },
        "role": role,
        "signer_id": signer.pk,
        "signer": signer.get_username(),
        "meaning": meaning,
        "signed_at": signed_at.isoformat(),
        "reauthenticated_with": reauth_method,
    }
    if request.release_id:
        # A ring request's signature is for the whole release entering one ring.
        binding["release"] = release_subject(request)
    return binding


def release_subject(request: PromotionRequest) -> dict[str, Any]:
    """What a ring request's sign-offs and decision name: the release, its manifest digest,
    the environment and the ring."""
    release = request.release
    return {
        "id": release.pk,
        "name": f"{release.team.slug}/{release.name}@{release.version}",
        "manifest_sha256": release.manifest_sha256,
        "environment": request.environment,
        "ring": request.target_ring,
    }
