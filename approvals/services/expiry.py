"""Requests nobody decided: in review past their due date and a grace period → expired."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from approvals.choices import RequestState
from approvals.models import PromotionRequest
from approvals.services.common import transition_request
from audit.services import actor_label_for, record
from registry import services as registry_services
from registry.choices import VersionState


def promotion_requests_expire(
    *, via: str, now: datetime | None = None, chunk_size: int = 200
) -> int:
    """Expire every request still in review ``GOVBOARD_REVIEW_GRACE_DAYS`` after it was due.

    The version goes back to draft (CI must submit again, under the current policy). Set
    based and chunked: ids in chunks, then each request locked (``skip_locked``) and moved
    in its own short transaction, so concurrent sweeps change each request once.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=int(settings.GOVBOARD_REVIEW_GRACE_DAYS))
    changed = 0
    last_id = 0
    while True:
        ids = list(
            PromotionRequest.objects.filter(
                state=RequestState.IN_REVIEW, due_at__lt=cutoff, id__gt=last_id
            )
            .order_by("id")
            .values_list("id", flat=True)[:chunk_size]
        )
        if not ids:
            return changed
        last_id = ids[-1]
        for request_id in ids:
            with transaction.atomic():
                locked = (
                    PromotionRequest.objects.select_for_update(skip_locked=True, of=("self",))
                    .filter(pk=request_id, state=RequestState.IN_REVIEW, due_at__lt=cutoff)
                    .select_related("version__registered_model")
                    .first()
                )
                if locked is None:
                    continue  # another sweep has it, or it was decided meanwhile
                before = transition_request(locked, "expire")
                locked.decided_at = now
                locked.reasons = [
                    f"expired: not decided within {settings.GOVBOARD_REVIEW_GRACE_DAYS} days "
                    f"after it was due ({locked.due_at:%Y-%m-%d})"
                ]
                locked.save()
                record(
                    actor=None,
                    actor_label=actor_label_for(None, via=via),
                    verb="promotion.expired",
                    target=locked,
                    team_id=locked.version.registered_model.team_id,
                    data={
                        "before": {"state": before},
                        "after": {"state": locked.state},
                        "due_at": locked.due_at.isoformat(),
                    },
                )
                if locked.version.state == VersionState.CANDIDATE:
                    registry_services.version_return_to_draft(
                        actor=None,
                        via=via,
                        version=locked.version_id,
                        request_id=locked.pk,
                        reason="promotion request expired",
                    )
                changed += 1
