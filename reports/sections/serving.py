"""Section (a) and the admin page "which version served customer C at time T": the
registry's deployments, read through the same selector as the API's deployment list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from core.permissions import Verb
from registry.models import Deployment
from registry.selectors import deployments_visible_to
from registry.serving import deployments_serving
from reports.scope import ReportScope
from reports.sections.base import CHUNK_SIZE, Record, Section

COLUMNS = (
    "customer",
    "environment",
    "ring",
    "team",
    "model",
    "kind",
    "version",
    "version_state",
    "started_at",
    "ended_at",
    "recorded_by",
)


def exportable(actor: Any, queryset: QuerySet[Deployment]) -> QuerySet[Deployment]:
    """``deployments_visible_to`` reads (``Verb.READ``); a report exports."""
    return queryset.filter(pk__in=Deployment.objects.visible_to(actor, Verb.EXPORT).values("pk"))


def served_at(actor: Any, *, customer: str, at: datetime) -> QuerySet[Deployment]:
    """The deployments serving ``customer`` at the moment ``at`` (``registry.serving``, the
    one answer the API's ``/served/`` reads too)."""
    return deployments_serving(actor, customer=customer, at=at)


def serving_section(scope: ReportScope) -> Section:
    """(a) Which version — and which threshold or policy config — served each customer in
    each window: every deployment overlapping the report's window."""

    def records() -> Iterator[Record]:
        queryset = deployments_visible_to(
            scope.actor,
            customer_scope=scope.customer or None,
            active_from=scope.start,
            active_until=scope.until,
        )
        queryset = exportable(scope.actor, queryset.filter(scope.serving_models()))
        values = queryset.order_by("customer_scope", "started_at", "id").values_list(
            "customer_scope",
            "environment",
            "ring",
            "version__registered_model__team__slug",
            "version__registered_model__name",
            "version__registered_model__kind",
            "version__version",
            "version__state",
            "started_at",
            "ended_at",
            "recorded_by__username",
        )
        yield from values.iterator(chunk_size=CHUNK_SIZE)

    return Section(
        "serving",
        "Which version served which customer, and when",
        COLUMNS,
        records,
        window_field="deployments active during the window",
    )
