"""The promotion-request changelist (the approver's and the manager's request list): its
filters, and the columns its rows load.

Rows load only what the list shows. Every request carried its policy snapshot, checked
evidence and reasons, its version's metadata and its policy (JSON documents decoded per
row, 1,700 a page of 100) to print ten short columns: most of the list's Python time at
100,000 versions (issue 14).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import F

from approvals import selectors
from approvals.models import SignOff
from approvals.models.request_team import REQUEST_TEAM

#: What a row of the list shows (``PromotionRequestAdmin.list_display``), and the
#: states the FSM models read as they load.
LIST_FIELDS = (
    "id",
    "state",
    "priority",
    "due_at",
    "created_at",
    "target_ring",
    "version__state",
    "version__version",
    "version__registered_model__name",
    f"{REQUEST_TEAM}__slug",
    "release__name",
    "release__version",
    "requested_by__username",
)
#: The related rows of ``LIST_FIELDS`` (a ring request names its release). The team is
#: the request's own (``REQUEST_TEAM``): the team filter and the team column's order
#: join it once, from the request, not through the version's model.
LIST_RELATED = ("version__registered_model", REQUEST_TEAM, "release", "requested_by")


class RequestChangeList(ChangeList):
    """The changelist with rows of ``LIST_FIELDS`` and the roles each policy requires
    (``required_roles``, the sign-off column's denominator) instead of whole snapshots,
    and the page's sign-offs counted from one query (``signoffs_given``, the numerator)."""

    def get_queryset(self, request: Any, exclude_parameters: Any = None) -> Any:
        queryset = super().get_queryset(request, exclude_parameters)
        return (
            queryset.select_related(None)
            .select_related(*LIST_RELATED)
            .only(*LIST_FIELDS)
            .annotate(required_roles=F("policy_snapshot__required_roles"))
        )

    def get_results(self, request: Any) -> None:
        super().get_results(request)
        # The request ids of the page's sign-offs, counted here: prefetching the sign-offs
        # built a queryset and a model per row (9 ms of CPU a page of 100, issue 14).
        self.result_list = list(self.result_list)
        given = Counter(
            SignOff.objects.filter(request_id__in=[row.pk for row in self.result_list])
            .order_by()
            .values_list("request_id", flat=True)
        )
        for row in self.result_list:
            row.signoffs_given = given[row.pk]


def signoffs_given(obj: Any) -> int:
    """How many sign-offs the request has: counted for the list's page, or read."""
    given = getattr(obj, "signoffs_given", None)
    return obj.signoffs.count() if given is None else given


def required_signoffs(obj: Any) -> int:
    """How many sign-offs the request's policy requires: from the list's annotation, or
    from the snapshot on a request loaded whole."""
    roles = getattr(obj, "required_roles", None)
    if roles is None:
        roles = obj.policy_snapshot.get("required_roles", {})
    return sum(roles.values())


class ReviewQueueFilter(admin.SimpleListFilter):
    """ "Awaiting my sign-off": the queue's selector (expedited, then due, then oldest)."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("mine", "Awaiting my sign-off")]

    def queryset(self, request, queryset):
        if self.value() == "mine":
            mine = selectors.review_queue_for(request.user).values("id")
            return queryset.filter(id__in=mine).order_by("-priority", "due_at", "created_at")
        return queryset


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue"), ("no", "On time")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(is_overdue=self.value() == "yes")
        return queryset
