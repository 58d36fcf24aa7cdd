"""The approver's landing page, "Awaiting your sign-off": the requests where a board role
the person holds on the request's team is still missing (``selectors.review_queue_for``,
the one rule the navigation badge, the changelist filter and the API use too), most urgent
first, with each request's age and SLA countdown.

Bounded: two queries for the rows (the roles the person holds, then at most
``QUEUE_LIMIT`` requests, one more to know there are more: no COUNT over the queue),
besides the session and the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

from approvals import selectors
from approvals.assessment import role_label
from approvals.choices import ApproverRole, Priority
from approvals.models import PromotionRequest


@dataclass(frozen=True)
class QueueRow:
    """One request as the queue shows it."""

    request: PromotionRequest
    roles: list[str]
    age: str
    sla: str
    overdue: bool
    review_url: str
    sign_url: str

    @property
    def expedited(self) -> bool:
        return self.request.priority >= Priority.EXPEDITED


def sla_countdown(due_at: datetime | None, *, now: datetime) -> tuple[str, bool]:
    """The SLA in words ("due in 2 days, 3 hours", "overdue by 5 hours") and whether it
    is overdue; the text says it, not only the colour."""
    if due_at is None:
        return "no SLA", False
    if due_at < now:
        return f"overdue by {timesince(due_at, now)}", True
    if due_at - now < timedelta(minutes=1):
        return "due now", False
    return f"due in {timeuntil(due_at, now)}", False


def queue_rows(user: object, *, now: datetime) -> tuple[list[QueueRow], bool]:
    """The first ``QUEUE_LIMIT`` requests awaiting ``user``, and whether more wait."""
    limit = selectors.QUEUE_LIMIT
    found = list(selectors.review_queue_for(user, now=now)[: limit + 1])
    rows = []
    for request in found[:limit]:
        sla, overdue = sla_countdown(request.due_at, now=now)
        rows.append(
            QueueRow(
                request=request,
                roles=[
                    role_label(role)
                    for role in ApproverRole.values
                    if getattr(request, f"awaits_{role}", False)
                ],
                age=timesince(request.created_at, now),
                sla=sla,
                overdue=overdue,
                review_url=reverse("admin:approvals_promotionrequest_change", args=[request.pk]),
                sign_url=reverse("admin:approvals_promotionrequest_sign", args=[request.pk]),
            )
        )
    return rows, len(found) > limit


def awaiting_view(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    rows, more = queue_rows(request.user, now=now)
    context = {
        **admin.site.each_context(request),
        "title": "Awaiting your sign-off",
        "rows": rows,
        "more": more,
        "limit": selectors.QUEUE_LIMIT,
        # The navigation badge reads this instead of counting again.
        "awaiting_count": len(rows) + int(more),
        "changelist_url": reverse("admin:approvals_promotionrequest_changelist") + "?queue=mine",
    }
    return TemplateResponse(request, "admin/approvals/awaiting.html", context)


admin.site.register_page("awaiting/", awaiting_view, name="awaiting")
