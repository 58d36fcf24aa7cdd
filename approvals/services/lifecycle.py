"""Lifecycle verbs that touch a version and its promotion request together: deprecate,
retire, and the scheduled expiry of approvals.

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
from django.utils import timezone

from approvals.choices import OPEN_REQUEST_STATES
from approvals.models import PromotionRequest
from approvals.services.requests import close_request
from approvals.services.webhooks import webhooks_enqueue
from audit.verbs import AuditVerb
from core.errors import Conflict
from core.sweeps import sweep
from registry import services as registry_services
from registry.choices import VersionState
from registry.models import ModelVersion


def lock_open_requests(version_id: int) -> list[PromotionRequest]:
    """The version's open promotion requests, locked: the first lock any lifecycle verb
    takes (at most one exists; a constraint says so)."""
    return list(
        PromotionRequest.objects.select_for_update(of=("self",))
        .filter(version_id=version_id, state__in=OPEN_REQUEST_STATES)
        .order_by("id")
    )


def _withdraw_for(actor: Any, requests: list[PromotionRequest], why: str, via: str | None):
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
    _withdraw_for(actor, open_requests, f"the version was deprecated ({reason})", via)
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
    _withdraw_for(actor, open_requests, f"the version was retired ({reason})", via)
    return retired


def versions_expire_approvals(
    *, via: str, now: datetime | None = None, chunk_size: int = 200
) -> int:
    """Deprecate every approved version whose approval has expired; returns how many.

    Through the one sweep loop: each version in its own transaction, its open request
    locked first, the version locked with ``skip_locked`` (two sweeps change it once) and
    re-read under the lock; a version that fails is logged and the rest go on.
    """
    now = now or timezone.now()
    expired = ModelVersion.objects.filter(state=VersionState.APPROVED, approval_expires_at__lte=now)

    def deprecate(version_id: int) -> bool:
        open_requests = lock_open_requests(version_id)
        locked = (
            expired.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=version_id)
            .select_related("registered_model__team")
            .first()
        )
        if locked is None:
            return False  # another sweep has it, or it changed since
        reason = "approval expired; re-certification required"
        deprecated = registry_services.version_deprecate(
            actor=None, via=via, version=locked, reason=reason
        )
        _withdraw_for(None, open_requests, f"the version was deprecated ({reason})", via)
        webhooks_enqueue(event=deprecated.transition_event, version=deprecated)
        return True

    return sweep(
        name="expire-approvals", candidates=expired, handle=deprecate, chunk_size=chunk_size
    ).changed


def version_retire_if_free(*, version_id: int, via: str, reason: str, now: datetime) -> bool:
    """The scheduler's retirement of one deprecated version: skipped (False) while another
    sweep holds it or a deployment still serves it; the scheduler never ends one."""
    open_requests = lock_open_requests(version_id)
    locked = (
        ModelVersion.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk=version_id, state=VersionState.DEPRECATED)
        .first()
    )
    if locked is None:
        return False
    try:
        with transaction.atomic():
            registry_services.version_retire(
                actor=None, via=via, version=locked, reason=reason, now=now
            )
    except Conflict:
        return False  # still served; a person ends the deployments (or breaks glass)
    _withdraw_for(None, open_requests, f"the version was retired ({reason})", via)
    return True
