"""Deprecated versions are retired once the grace period of the policy that approved them ends."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from approvals.choices import RequestState
from approvals.models import PromotionRequest
from approvals.services.lifecycle import version_retire_if_free
from core.sweeps import sweep
from registry.choices import VersionState
from registry.models import ModelVersion

DEFAULT_GRACE_DAYS = 30
logger = logging.getLogger(__name__)


def versions_retire_after_grace(
    *, via: str, now: datetime | None = None, chunk_size: int = 200
) -> int:
    """Retire every deprecated version whose grace period (``retirement_grace_days`` of the
    policy snapshot it was approved under; 30 days if it never was) has run out.

    Through the one sweep loop; each version is retired by the lifecycle service in its
    own transaction (request then version locked, audit event). A version another sweep
    or a manager moved meanwhile, or one a deployment still serves, is left for later.
    Returns how many were retired.
    """
    now = now or timezone.now()
    deprecated = ModelVersion.objects.filter(
        state=VersionState.DEPRECATED, deprecated_at__isnull=False
    )

    def retire(version_id: int) -> bool:
        deprecated_at = deprecated.filter(pk=version_id).values_list("deprecated_at", flat=True)
        if not deprecated_at:
            return False
        days = grace_days(version_id)
        if deprecated_at[0] + timedelta(days=days) > now:
            return False
        retired = version_retire_if_free(
            version_id=version_id,
            via=via,
            reason=f"retirement grace of {days} days after deprecation has ended",
            now=now,
        )
        if not retired:
            logger.warning(
                "Version %s is past its grace but not retired (held or served).", version_id
            )
        return retired

    return sweep(
        name="retire-after-grace", candidates=deprecated, handle=retire, chunk_size=chunk_size
    ).changed


def grace_days(version_id: int) -> int:
    """The retirement grace of the policy the version was approved under."""
    snapshot = (
        PromotionRequest.objects.filter(version_id=version_id, state=RequestState.APPROVED)
        .order_by("-id")
        .values_list("policy_snapshot", flat=True)
        .first()
    )
    value = (snapshot or {}).get("retirement_grace_days")
    return value if isinstance(value, int) and value >= 0 else DEFAULT_GRACE_DAYS
