"""Ring requests: asking for a release to enter its next ring in an environment.

A ring request is a promotion request like any other (ADR 0020): ``release``,
``environment`` and ``target_ring`` set, and ``version`` the release's anchor component,
so the queue, dashboard, sign-offs, separation of duties, decision records and webhooks
hold as they are. It opens through ``requests.open_request`` (the one opening path), runs
the ring checks (``approvals.checks.release``) instead of the version's evidence checks,
and its approval writes the ``RingEntry`` (``approvals.services.decisions``).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction

from approvals.checks.release import previous_ring, ring_label
from approvals.choices import OPEN_REQUEST_STATES
from approvals.models import PromotionRequest, RingEntry
from approvals.release_policy import policy_for_release
from approvals.services.requests import open_request
from core.errors import Conflict, IllegalTransition, InvalidInput
from core.permissions import Verb, require
from registry import services as registry_services
from registry.choices import ReleaseComponentKind, ReleaseState, Ring
from registry.models import ModelVersion, Release, ReleaseComponent

#: Which component anchors a ring request: the release's primary model version.
ANCHOR_KIND_ORDER = (
    ReleaseComponentKind.MODEL,
    ReleaseComponentKind.ADAPTER,
    ReleaseComponentKind.PROMPT,
    ReleaseComponentKind.CONFIG,
    ReleaseComponentKind.SDK,
)


def release_anchor(release: Release) -> ModelVersion | None:
    """The release's anchor: its first component of kind model > adapter > prompt >
    config > sdk whose model is owned by the release's team (one query)."""
    components = (
        ReleaseComponent.objects.filter(
            release=release,
            kind__in=ANCHOR_KIND_ORDER,
            model_version__registered_model__team_id=release.team_id,
        )
        .select_related("model_version")
        .order_by("id")
    )
    ranked = sorted(components, key=lambda c: (ANCHOR_KIND_ORDER.index(c.kind), c.pk))
    return ranked[0].model_version if ranked else None


def _lock_release(release: Release | int) -> Release:
    pk = release.pk if isinstance(release, Release) else release
    return Release.objects.select_for_update(of=("self",)).select_related("team").get(pk=pk)


@transaction.atomic
def ring_entry_request(
    *,
    actor: Any,
    release: Release | int,
    environment: str,
    ring: str,
    now: Any = None,
    run_checks_now: bool | None = None,
) -> PromotionRequest:
    """Ask for ``release`` to enter ``ring`` in ``environment``: a promotion request of its
    anchor, judged under ``policy_for_release``. ``Verb.REGISTER`` on the release's team,
    as promotion submission (CI's token needs the promote scope).

    Refused, with nothing written: an unknown ring or environment name; a release that is
    withdrawn or rolled back; a ring already entered; a ring skip (the previous ring of
    ``RING_ORDER`` not entered in this environment; offline validation is the first); an
    open request for the same ring (the database constraint answers a race).
    """
    if ring not in Ring.values:
        raise InvalidInput(
            f"Unknown ring {ring!r}: one of {', '.join(Ring.values)}.",
            errors={"ring": ["unknown ring"]},
        )
    try:
        if not environment or len(environment) > 64:
            raise ValidationError("length")
        validate_slug(environment)
    except ValidationError as exc:
        raise InvalidInput(
            "The environment must be a slug (letters, digits, dashes).",
            errors={"environment": ["not a slug"]},
        ) from exc
    locked = _lock_release(release)
    require(
        actor,
        Verb.REGISTER,
        locked.team,
        refusal="You may not request ring entry for this team's releases.",
    )
    if locked.state != ReleaseState.SUBMITTED:
        raise IllegalTransition(f"Release {locked} is {locked.state}; it enters no ring.")
    entered = set(
        RingEntry.objects.filter(release=locked, environment=environment).values_list(
            "ring", flat=True
        )
    )
    if ring in entered:
        raise Conflict(f"Release {locked} has already entered {ring_label(ring)} in {environment}.")
    previous = previous_ring(ring)
    if previous is not None and previous not in entered:
        raise IllegalTransition(
            f"Release {locked} must enter {ring_label(previous)} in {environment} before "
            f"{ring_label(ring)}: rings are entered in order."
        )
    if PromotionRequest.objects.filter(
        release=locked, environment=environment, target_ring=ring, state__in=OPEN_REQUEST_STATES
    ).exists():
        raise Conflict(f"Release {locked} already has an open request for {ring} in {environment}.")
    anchor = release_anchor(locked)
    if anchor is None:
        raise InvalidInput(
            f"Release {locked} pins no model, adapter, prompt, config or SDK version of its "
            "team to anchor the request."
        )
    policy, snapshot = policy_for_release(locked, ring=ring)
    return open_request(
        actor=actor,
        version=registry_services.lock_version(anchor),
        policy=policy,
        policy_snapshot=snapshot,
        release=locked,
        environment=environment,
        target_ring=ring,
        rollback_plan=_rollback_plan(locked),
        run_checks_now=run_checks_now,
        now=now,
    )


def _rollback_plan(release: Release) -> str:
    """The release's rollback notes, carried on the request for reviewers."""
    target = (
        f"release {release.rollback_target_id}"
        if release.rollback_target_id
        else (release.rollback_feature_flag or "—")
    )
    triggers = "; ".join(str(t) for t in release.rollback_triggers or [])
    owner = release.rollback_owner.get_username()
    return f"Roll back to {target} (owner {owner}) on: {triggers}"[:5000]


__all__ = ["release_anchor", "ring_entry_request"]
