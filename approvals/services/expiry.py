"""Requests nobody decided: in review past their due date and a grace period → expired."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from approvals.choices import RequestState
from approvals.models import PromotionRequest
from approvals.services.requests import close_request
from audit.verbs import AuditVerb
from core.sweeps import sweep


def promotion_requests_expire(
    *, via: str, now: datetime | None = None, chunk_size: int = 200
) -> int:
    """Expire every request still in review ``GOVBOARD_REVIEW_GRACE_DAYS`` after it was due.

    The version goes back to draft (CI must submit again, under the current policy). Each
    request is locked (``skip_locked``: concurrent sweeps change each request once) and
    closed through the one closing path, which locks and re-reads its version; a request
    that fails is logged and the sweep goes on. Returns how many expired.
    """
    now = now or timezone.now()
    grace = int(settings.GOVBOARD_REVIEW_GRACE_DAYS)
    cutoff = now - timedelta(days=grace)
    due = PromotionRequest.objects.filter(state=RequestState.IN_REVIEW, due_at__lt=cutoff)

    def expire(request_id: int) -> bool:
        locked = (
            due.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=request_id)
            .select_related("version__registered_model")
            .first()
        )
        if locked is None:
            return False  # another sweep has it, or it was decided meanwhile
        close_request(
            actor=None,
            via=via,
            request=locked,
            transition="expire",
            verb=AuditVerb.PROMOTION_EXPIRED,
            reasons=[
                f"expired: not decided within {grace} days after it was due "
                f"({locked.due_at:%Y-%m-%d})"
            ],
            draft_reason="promotion request expired",
            extra={"due_at": locked.due_at.isoformat()},
            now=now,
        )
        return True

    return sweep(
        name="expire-stale-requests", candidates=due, handle=expire, chunk_size=chunk_size
    ).changed
