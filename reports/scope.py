"""What a report covers: a model, a team, a customer, a time window, or any combination.

A scope is resolved once, for one actor: a model or team the actor may not export looks
the same as a missing one (a clear error, nothing produced).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast

from approvals.models import Incident, PromotionRequest, RingEntry
from approvals.models.request_team import REQUEST_TEAM
from core.api.params import aware_datetime_param
from core.errors import InvalidInput
from core.permissions import Verb, require
from registry.choices import ModelKind
from registry.models import (
    Deployment,
    ModelVersion,
    RegisteredModel,
    Release,
    ReleaseComponent,
    Team,
)


@dataclass(frozen=True)
class ReportScope:
    """The resolved scope; ``actor`` is who the report is for (every query is theirs)."""

    actor: Any
    model: RegisteredModel | None = None
    team: Team | None = None
    customer: str = ""
    start: datetime | None = None
    until: datetime | None = None

    def describe(self) -> dict[str, str | None]:
        return {
            "model": str(self.model) if self.model else None,
            "team": self.team.slug if self.team else None,
            "customer": self.customer or None,
            "from": self.start.isoformat() if self.start else None,
            "until": self.until.isoformat() if self.until else None,
        }

    # --- the rows every section starts from -------------------------------------------

    def versions(self) -> QuerySet[ModelVersion]:
        """The versions the report is about: of the model or team, and (with a customer)
        those that served the customer. Never wider than what the actor may export."""
        queryset = ModelVersion.objects.visible_to(self.actor, Verb.EXPORT)
        if self.model is not None:
            queryset = queryset.filter(registered_model=self.model)
        elif self.team is not None:
            queryset = queryset.filter(registered_model__team=self.team)
        if self.customer:
            served = Deployment.objects.filter(customer_scope=self.customer)
            queryset = queryset.filter(pk__in=served.values("version_id"))
        return queryset

    def requests(self) -> QuerySet[PromotionRequest]:
        """The promotion requests of ``versions()``. A request's team is its version's
        model's (``REQUEST_TEAM``): a team's or an unscoped report reads them by that
        column, not through a subquery over every version of the scope (issue 14)."""
        queryset = PromotionRequest.objects.visible_to(self.actor, Verb.EXPORT)
        if self.model is not None or self.customer:
            return queryset.filter(version__in=self.versions().values("pk"))
        if self.team is not None:
            return queryset.filter(**{REQUEST_TEAM: self.team})
        return queryset

    def releases(self) -> QuerySet[Release]:
        """The releases the report is about: the team's, and (with a model or a customer)
        those pinning one of ``versions()``. A release is the team's that submitted it, as
        its page and the API say, so another team's release pinning the model stays out
        unless the actor may export that team too."""
        queryset = Release.objects.visible_to(self.actor, Verb.EXPORT)
        if self.team is not None:
            queryset = queryset.filter(team=self.team)
        if self.model is not None or self.customer:
            pinned = ReleaseComponent.objects.filter(model_version__in=self.versions().values("pk"))
            queryset = queryset.filter(pk__in=pinned.values("release_id"))
        return queryset

    def releases_in_window(self) -> QuerySet[Release]:
        """``releases()`` submitted in the window or entering a ring in it."""
        queryset = self.releases()
        if self.start is None and self.until is None:
            return queryset
        entered = RingEntry.objects.filter(self.in_window("entered_at")).values("release_id")
        return queryset.filter(self.in_window("created_at") | Q(pk__in=entered))

    def incidents(self) -> QuerySet[Incident]:
        """The incidents the report is about: the team's, and (with a model or a customer)
        those naming one of ``versions()`` or on one of ``releases()``; open at some moment
        of the window (opened before its end, not resolved before its start)."""
        queryset = Incident.objects.visible_to(self.actor, Verb.EXPORT)
        if self.team is not None:
            queryset = queryset.filter(team=self.team)
        if self.model is not None or self.customer:
            named = Incident.versions.through.objects.filter(
                modelversion_id__in=self.versions().values("pk")
            )
            queryset = queryset.filter(
                Q(pk__in=named.values("incident_id")) | Q(release__in=self.releases().values("pk"))
            )
        if self.until is not None:
            queryset = queryset.filter(opened_at__lt=self.until)
        if self.start is not None:
            queryset = queryset.filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=self.start))
        return queryset

    def version_ids_as_text(self) -> QuerySet:
        """Version ids as the audit log stores object ids (text), for a subquery."""
        return self.versions().annotate(text_id=Cast("pk", CharField())).values("text_id")

    def request_ids_as_text(self) -> QuerySet:
        return self.requests().annotate(text_id=Cast("pk", CharField())).values("text_id")

    def in_window(self, field: str) -> Q:
        """Rows whose ``field`` (a moment) falls in the window; everything without one."""
        condition = Q()
        if self.start is not None:
            condition &= Q(**{f"{field}__gte": self.start})
        if self.until is not None:
            condition &= Q(**{f"{field}__lt": self.until})
        return condition

    def serving_models(self) -> Q:
        """Which deployments section (a) reads: the model's (with the configs — threshold
        and policy config models — of its team that served its customers alongside), the
        team's, or every exportable one."""
        if self.model is not None:
            customers = Deployment.objects.filter(version__registered_model=self.model)
            return Q(version__registered_model=self.model) | Q(
                version__registered_model__team=self.model.team,
                version__registered_model__kind=ModelKind.CONFIG,
                customer_scope__in=customers.values("customer_scope"),
            )
        if self.team is not None:
            return Q(version__registered_model__team=self.team)
        return Q()


def report_scope(
    *,
    actor: Any,
    model: str = "",
    team: str = "",
    customer: str = "",
    start: str | datetime | None = None,
    until: str | datetime | None = None,
) -> ReportScope:
    """Resolve a scope from what a person typed: ``model`` as ``team/name``, ``team`` as
    a slug, ``start``/``until`` as ISO 8601 moments with a time zone. Raises
    ``InvalidInput`` (unknown or hidden names, bad moments) or ``NotPermitted``."""
    found_model = found_team = None
    if model:
        team_slug, _, name = model.partition("/")
        found_model = (
            RegisteredModel.objects.visible_to(actor, Verb.EXPORT)
            .select_related("team")
            .filter(team__slug=team_slug, name=name)
            .first()
        )
        if found_model is None:
            raise InvalidInput(f"No model {model!r} that you may export (give team/name).")
        require(actor, Verb.EXPORT, found_model.team)
    if team:
        found_team = Team.objects.visible_to(actor, Verb.EXPORT).filter(slug=team).first()
        if found_team is None:
            raise InvalidInput(f"No team {team!r} that you may export.")
        if found_model is not None and found_model.team_id != found_team.pk:
            raise InvalidInput(f"The model {model!r} is not one of team {team!r}'s.")
        require(actor, Verb.EXPORT, found_team)
    window_start, window_until = _moment(start, "from"), _moment(until, "until")
    if window_start and window_until and window_start >= window_until:
        raise InvalidInput("The window's start must be before its end.")
    return ReportScope(
        actor=actor,
        model=found_model,
        team=found_team,
        customer=customer.strip(),
        start=window_start,
        until=window_until,
    )


def _moment(value: str | datetime | None, name: str) -> datetime | None:
    """A window edge: an aware datetime, or text read by the API's one parser of them
    (an impossible date such as Feb 30, or one at the calendar's edge, is a refusal)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInput(f"{name} must be an ISO 8601 datetime with a time zone.")
        return value
    return aware_datetime_param(None if value is None else str(value), name)
