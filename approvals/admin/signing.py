"""What the sign, reject and request-changes buttons of a promotion request say: what is
being acted on, which roles the person can still sign (the queue's rule), and why a person
with nothing left to sign is refused instead of shown a form."""

from __future__ import annotations

from typing import Any

from approvals import selectors
from approvals.assessment import role_label
from approvals.choices import RequestState
from approvals.models import PromotionRequest
from core.permissions import roles_held

REVIEWERS_ONLY = (
    "Only an approver of a role this request's policy requires may decide it while it is in "
    "review. Nothing was recorded."
)


def roles_to_sign(request: Any, obj: PromotionRequest) -> list[str]:
    """The roles the user can still sign on this request: ``selectors.roles_to_sign``."""
    return selectors.roles_to_sign(request.user, obj)


def subject(obj: PromotionRequest) -> list[tuple[str, str]]:
    """What a sign-off, rejection or request for changes is about, shown above its form."""
    version = obj.version
    return [
        ("Request", str(obj)),
        ("Model", version.registered_model.name),
        ("Version", version.version),
        ("Team", version.registered_model.team.slug),
        ("Artifact checksum (sha256)", version.checksum),
    ]


def no_role_left(request: Any, obj: PromotionRequest) -> str:
    """Why nothing awaits this person's signature here (the refusal page's words)."""
    user, team = request.user, obj.version.registered_model.team
    mine = obj.signoffs.filter(signer=user).values_list("role", flat=True).first()
    required = obj.policy_snapshot.get("required_roles", {})
    held = [role for role in roles_held(user, team) if role in required]
    if obj.state != RequestState.IN_REVIEW:
        state = obj.get_state_display().lower()
        reason = f"the request is {state}; only requests in review are signed"
    elif obj.requested_by_id == user.pk:
        reason = "separation of duties: the requester cannot sign their own request"
    elif mine:
        reason = (
            f"you have already signed this request (as {role_label(mine)}); one person signs "
            "for one role per request"
        )
    elif held:
        reason = "the " + ", ".join(role_label(r) for r in held) + " sign-off quorum is already met"
    else:
        reason = f"you hold no board role this request's policy requires on team {team.slug}"
    return f"You cannot sign {obj}: {reason}. Nothing was recorded."
