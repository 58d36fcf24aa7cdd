"""Lifecycle verbs that touch a version and its promotion request together: deprecate and
retire (the scheduled rules, the expiry of approvals among them, are in ``hygiene``).

The lock order of every service is **the promotion request first, then the version**
(ADR 0010). Deprecating or retiring a version locks its open request (if any) before the
version and withdraws it in the same transaction, with the reason: a deprecated or
retired version never keeps a request in review. Refusing instead would let a pending
review block a kill switch; withdrawing only ends a review of something that may no
longer be used, and the audit trail says why.

The registry's ``version_deprecate``/``version_retire`` are the version's transitions
alone; people (admin), jobs and commands call these.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from approvals.choices import OPEN_REQUEST_STATES
from approvals.models import PromotionRequest
from approvals.services.requests import close_request
from approvals.services.webhooks import webhooks_enqueue
from audit.verbs import AuditVerb
from core.errors import Conflict
from registry import services as registry_services
from registry.choices import VersionState
from registry.models import ModelVersion


def lock_open_requests(version_id: int) -> list[PromotionRequest]:
    """The version's open promotion requests, locked: the first lock any lifecycle verb
    takes (at most one exists; a constraint says so)."""
    return lock_open_requests_of([version_id]).get(version_id, [])


def lock_open_requests_of(version_ids: list[int]) -> dict[int, list[PromotionRequest]]:
    """``lock_open_requests`` for a sweep's chunk of versions, in one statement (in id
    order, so two chunks that share a request wait for each other, never deadlock)."""
    locked: dict[int, list[PromotionRequest]] = {}
    for request in (
        PromotionRequest.objects.select_for_update(of=("self",))
        .filter(version_id__in=version_ids, state__in=OPEN_REQUEST_STATES)
        .order_by("id")
    ):
        locked.setdefault(request.version_id, []).append(request)
    return locked


def withdraw_for(actor: Any, requests: list[PromotionRequest], why: str, via: str | None) -> None:
    """Withdraw the (locked) open requests of a version being deprecated or retired."""
    for request in requests:
        close_request(
            actor=actor,
            via=via,
            request=request,
            transition="withdraw",
            verb=AuditVerb.PROMOTION_WITHDRAWN,
            reasons=[f"withdrawn: {why}"],
            draft_reason=None,
            extra={"reason": why},
        )


def _pk(version: ModelVersion | int) -> int:
    return version.pk if isinstance(version, ModelVersion) else version


@transaction.atomic
def version_deprecate(
    *, actor: Any, version: ModelVersion | int, reason: str, via: str | None = None
) -> ModelVersion:
    """candidate/approved → deprecated (managers, or the scheduler with ``actor=None``),
    withdrawing the open promotion request in the same transaction; announced to the
    webhooks through the outbox."""
    version_id = _pk(version)
    open_requests = lock_open_requests(version_id)
    deprecated = registry_services.version_deprecate(
        actor=actor, via=via, version=version_id, reason=reason
    )
    withdraw_for(actor, open_requests, f"the version was deprecated ({reason})", via)
    webhooks_enqueue(event=deprecated.transition_event, version=deprecated)
    return deprecated


@transaction.atomic
def version_retire(
    *,
    actor: Any,
    version: ModelVersion | int,
    reason: str,
    via: str | None = None,
    end_deployments: bool = False,
    now: datetime | None = None,
) -> ModelVersion:
    """deprecated → retired (see ``registry.services.version_retire`` for deployments),
    withdrawing any open promotion request first."""
    version_id = _pk(version)
    open_requests = lock_open_requests(version_id)
    retired = registry_services.version_retire(
        actor=actor,
        via=via,
        version=version_id,
        reason=reason,
        end_deployments=end_deployments,
        now=now,
    )
    withdraw_for(actor, open_requests, f"the version was retired ({reason})", via)
    return retired


def version_retire_if_free(
    *, version_id: int, via: str, reason: str, now: datetime
) -> tuple[bool, list[int]]:
    """The scheduler's retirement of one deprecated version: ``(True, [])`` once retired;
    ``(False, [])`` while another sweep holds it or it changed; ``(False, ids)`` while
    deployments (those ids) still serve it: the scheduler never ends one, and the version
    stays locked in the caller's transaction so it can escalate."""
    open_requests = lock_open_requests(version_id)
    locked = (
        ModelVersion.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk=version_id, state=VersionState.DEPRECATED)
        .first()
    )
    if locked is None:
        return False, []
    try:
        with transaction.atomic():
            registry_services.version_retire(
                actor=None, via=via, version=locked, reason=reason, now=now
            )
    except Conflict as exc:
        # Still served; a person ends the deployments (or breaks glass).
        return False, [int(pk) for pk in (exc.errors or {}).get("deployments", [])]
    withdraw_for(None, open_requests, f"the version was retired ({reason})", via)
    return True, []
