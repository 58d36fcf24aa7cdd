"""Deprecated versions are retired once the grace period of the policy that approved them ends."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from approvals.choices import RequestState
from approvals.models import PromotionRequest
from govboard.errors import Conflict
from registry import services as registry_services
from registry.choices import VersionState
from registry.models import ModelVersion

DEFAULT_GRACE_DAYS = 30
logger = logging.getLogger(__name__)


def versions_retire_after_grace(
    *, via: str, now: datetime | None = None, chunk_size: int = 200
) -> int:
    """Retire every deprecated version whose grace period (``retirement_grace_days`` of the
    policy snapshot it was approved under; 30 days if it never was) has run out.

    Chunked by id; each version is retired by the registry service in its own transaction
    (row lock, audit event), and one that another sweep or a manager moved meanwhile is
    skipped, so concurrent sweeps retire each version once.
    """
    now = now or timezone.now()
    retired = 0
    last_id = 0
    while True:
        chunk = list(
            ModelVersion.objects.filter(
                state=VersionState.DEPRECATED, deprecated_at__isnull=False, id__gt=last_id
            )
            .order_by("id")
            .values_list("id", "deprecated_at")[:chunk_size]
        )
        if not chunk:
            return retired
        last_id = chunk[-1][0]
        grace = _grace_days([version_id for version_id, _ in chunk])
        for version_id, deprecated_at in chunk:
            days = grace.get(version_id, DEFAULT_GRACE_DAYS)
            if deprecated_at + timedelta(days=days) > now:
                continue
            try:
                with transaction.atomic():
                    locked = (
                        ModelVersion.objects.select_for_update(skip_locked=True, of=("self",))
                        .filter(pk=version_id, state=VersionState.DEPRECATED)
                        .first()
                    )
                    if locked is None:
                        continue
                    registry_services.version_retire(
                        actor=None,
                        via=via,
                        version=locked,
                        reason=f"retirement grace of {days} days after deprecation has ended",
                        now=now,
                    )
                    retired += 1
            except Conflict as exc:
                # Still served somewhere: the scheduler never ends a deployment; a person
                # must (or retire it as break-glass). The next sweep tries again.
                logger.warning("Version %s not retired: %s", version_id, exc.message)


def _grace_days(version_ids: list[int]) -> dict[int, int]:
    """The grace of the policy each version was approved under (one query per chunk)."""
    grace: dict[int, int] = {}
    approved = PromotionRequest.objects.filter(
        version_id__in=version_ids, state=RequestState.APPROVED
    ).values_list("version_id", "policy_snapshot")
    for version_id, snapshot in approved:
        value = (snapshot or {}).get("retirement_grace_days")
        if isinstance(value, int) and value >= 0:
            grace[version_id] = value
    return grace
