"""Why a version is not approved yet, for its page in the registry's admin: the reasons
of its open (or sent-back) promotion request, read from the request's assessment
(``selectors.request_detail``, the same words the review page and the API give)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from approvals.choices import OPEN_REQUEST_STATES, RequestState
from approvals.selectors import request_detail, requests_visible_to
from registry.models import ModelVersion

#: A sent-back request still blocks its version until CI submits again.
BLOCKING_STATES = (*OPEN_REQUEST_STATES, RequestState.CHANGES_REQUESTED)


@dataclass(frozen=True)
class VersionBlock:
    request_id: int
    request_state: str
    reasons: list[str]


def version_block(user: Any, version: ModelVersion) -> VersionBlock | None:
    """The version's newest open or sent-back request the user may see, with what stands
    between it and approval; None when no such request waits on anything.

    Queries: the request, then ``request_detail``'s fixed set.
    """
    latest = (
        requests_visible_to(user)
        .filter(version=version, state__in=BLOCKING_STATES)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    if latest is None:
        return None
    detail = request_detail(user, latest)
    # Open requests list what blocks them; a sent-back one what a new submission needs.
    reasons = detail.blocked_reasons or detail.waiting_for
    if not reasons:
        return None
    return VersionBlock(
        request_id=detail.request.pk, request_state=detail.request.state, reasons=reasons
    )
