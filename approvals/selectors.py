"""Read paths for promotion requests, always filtered to what the user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from approvals.choices import RequestState
from approvals.models import CheckResult, PromotionRequest, SignOff
from registry import permissions
from registry.choices import ApproverRole


def requests_visible_to(user: Any) -> QuerySet[PromotionRequest]:
    return PromotionRequest.objects.filter(
        version__registered_model__team__in=permissions.teams_visible_to(user)
    ).select_related("version__registered_model__team", "requested_by", "policy")


def request_with_evidence(queryset: QuerySet[PromotionRequest]) -> QuerySet[PromotionRequest]:
    return queryset.prefetch_related(
        Prefetch("signoffs", queryset=SignOff.objects.select_related("signer")),
        Prefetch("check_results", queryset=CheckResult.objects.order_by("id")),
    )


def review_queue_for(user: Any) -> QuerySet[PromotionRequest]:
    """Requests in review on teams where the user holds a signing role, oldest first."""
    team_ids: set[int] = set()
    for role in ApproverRole.values:
        team_ids.update(
            permissions.teams_where(user, permissions.signing_permission(role)).values_list(
                "id", flat=True
            )
        )
    return (
        PromotionRequest.objects.filter(
            state=RequestState.IN_REVIEW, version__registered_model__team_id__in=team_ids
        )
        .exclude(requested_by=user)
        .select_related("version__registered_model__team", "requested_by")
        .order_by("created_at", "id")
    )


__all__ = ["request_with_evidence", "requests_visible_to", "review_queue_for"]
