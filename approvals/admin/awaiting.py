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
from typing import Any

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


#: What a row shows. The queue's other columns stay in the database: decoding each row's
#: policy snapshot, checked evidence and reasons (JSON) and its version's metadata was
#: half the page's Python time at 100 rows (issue 14). The states stay: the FSM models
#: read them as they load.
ROW_FIELDS = (
    "id",
    "state",
    "priority",
    "created_at",
    "due_at",
    "version__state",
    "version__version",
    "version__registered_model__name",
    "version__registered_model__team__slug",
    "requested_by__username",
)

#: Stands for a request's id in a URL reversed once per page, not twice per row.
_PK = "0000pk0000"


def _url_for(name: str) -> Any:
    template = reverse(name, args=[_PK])
    return lambda pk: template.replace(_PK, str(pk))


def queue_rows(user: object, *, now: datetime) -> tuple[list[QueueRow], bool]:
    """The first ``QUEUE_LIMIT`` requests awaiting ``user``, and whether more wait."""
    limit = selectors.QUEUE_LIMIT
    queue = selectors.review_queue_for(user, now=now).only(*ROW_FIELDS)
    found = list(queue[: limit + 1])
    review_url = _url_for("admin:approvals_promotionrequest_change")
    sign_url = _url_for("admin:approvals_promotionrequest_sign")
    labels = [(f"awaits_{role}", role_label(role)) for role in ApproverRole.values]
    rows = []
    for request in found[:limit]:
        sla, overdue = sla_countdown(request.due_at, now=now)
        rows.append(
            QueueRow(
                request=request,
                roles=[label for awaits, label in labels if getattr(request, awaits, False)],
                age=timesince(request.created_at, now),
                sla=sla,
                overdue=overdue,
                review_url=review_url(request.pk),
                sign_url=sign_url(request.pk),
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
