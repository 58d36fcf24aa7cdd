"""Incident endpoints (issue 13): list and search the incidents a caller may see, open one on
a release, read one with its timeline, add a timeline note.

Thin over ``approvals.services.incidents`` (the admin's path too): the service checks
``Verb.MANAGE_INCIDENTS``, locks, writes the timeline and the audit event; its refusals
become problem+json. Reads go through ``approvals.selectors`` (the admin's search, the
team filter), so a team's incident the caller may not see is a 404 and absent from lists.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from approvals.choices import IncidentSeverity, IncidentState
from approvals.models import Incident
from approvals.selectors import (
    INCIDENT_TAGS,
    incident_in_detail,
    incidents_matching,
    incidents_tagged,
    incidents_visible_to,
)
from approvals.services.incidents import TITLE_MAX, incident_label, incident_note, incident_open
from core.api.params import text_query_params
from core.api.serializers import StrictSerializer
from core.errors import InvalidInput
from core.ids import IdField, parse_id
from core.pagination import keyset_parameters
from registry.api.idempotency import idempotent
from registry.api.releases import visible_release
from registry.choices import Ring
from registry.models import ModelVersion

TEXT_MAX = 20000
IDEMPOTENCY_KEY = OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)


class IncidentOpenSerializer(StrictSerializer):
    """A person or CI opens an incident on a release it may see."""

    release = IdField()
    title = serializers.CharField(max_length=TITLE_MAX)
    severity = serializers.ChoiceField(choices=IncidentSeverity.choices)
    summary = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=50
    )
    versions = serializers.ListField(child=IdField(), required=False, max_length=50)
    blocks_promotion = serializers.BooleanField(required=False, default=True)
    environment = serializers.SlugField(max_length=64, required=False, allow_blank=True)
    ring = serializers.ChoiceField(choices=Ring.choices, required=False, allow_blank=True)


class TimelineNoteSerializer(StrictSerializer):
    text = serializers.CharField(max_length=TEXT_MAX)


class IncidentSerializer(serializers.ModelSerializer):
    """One row of the incident list."""

    label = serializers.SerializerMethodField()
    team = serializers.CharField(source="team.slug")
    opened_by = serializers.CharField(source="opened_by.username")
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id",
            "label",
            "team",
            "release",
            "title",
            "severity",
            "state",
            "source",
            "environment",
            "ring",
            "blocks_promotion",
            "tags",
            "opened_by",
            "opened_at",
            "mitigated_at",
            "resolved_at",
        ]

    def get_label(self, incident: Incident) -> str:
        return incident_label(incident)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tags(self, incident: Incident) -> list[str]:
        # Prefetched in name order (``incidents_visible_to``): no query per row.
        return [tag.name for tag in getattr(incident, INCIDENT_TAGS)]


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    author = serializers.CharField(source="author.username")
    text = serializers.CharField()


class LinkedReleaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.CharField()
    state = serializers.CharField()


class IncidentVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    team = serializers.CharField(source="registered_model.team.slug")
    model = serializers.CharField(source="registered_model.name")
    version = serializers.CharField()
    state = serializers.CharField()


class IncidentDetailSerializer(IncidentSerializer):
    """One incident: the row, what is known, its timeline, its release and versions."""

    linked_release = LinkedReleaseSerializer(source="release", allow_null=True)
    versions = IncidentVersionSerializer(many=True)
    timeline = TimelineEntrySerializer(many=True)

    class Meta(IncidentSerializer.Meta):
        fields = [
            *IncidentSerializer.Meta.fields,
            "summary",
            "trigger",
            "monitoring_report",
            "contributing_factors",
            "retrospective",
            "linked_release",
            "versions",
            "timeline",
        ]


INCIDENT_FILTERS = [
    OpenApiParameter("team", str, description="Team slug"),
    OpenApiParameter("release", int, description="Release id"),
    OpenApiParameter("state", str, enum=IncidentState.values),
    OpenApiParameter("severity", str, enum=IncidentSeverity.values),
    OpenApiParameter("tag", str, description="A tag (exact)"),
    OpenApiParameter(
        "q",
        str,
        description="An incident id (INC-12), a tag (exact), or the start of a title "
        "(exact or prefix; never a substring)",
    ),
]


def _choice(params: Any, name: str, values: list[str]) -> str | None:
    value = params.get(name)
    if not value:
        return None
    if value not in values:
        raise InvalidInput(f"{name} must be one of {', '.join(values)}.", errors={name: [value]})
    return value


def filtered_incidents(user: Any, params: Any) -> QuerySet[Incident]:
    """The caller's incidents narrowed by the list's query parameters (a bad value: 400)."""
    # The keyset page's order (core.pagination), on the (opened_at, id) index.
    queryset = incidents_visible_to(user).order_by("-opened_at", "-id")
    if params.get("team"):
        queryset = queryset.filter(team__slug=params["team"])
    release = parse_id(params.get("release"), name="release")
    if release is not None:
        queryset = queryset.filter(release_id=release)
    if state := _choice(params, "state", IncidentState.values):
        queryset = queryset.filter(state=state)
    if severity := _choice(params, "severity", IncidentSeverity.values):
        queryset = queryset.filter(severity=severity)
    if params.get("tag"):
        queryset = incidents_tagged(queryset, params["tag"])
    if params.get("q"):
        queryset = incidents_matching(queryset, params["q"])
    return queryset


def visible_incident(user: Any, pk: int) -> Incident:
    """Incident ``pk`` with its timeline if ``user`` may see it, else a 404 (missing and
    forbidden look the same)."""
    incident = incident_in_detail(incidents_visible_to(user)).filter(pk=pk).first()
    if incident is None:
        raise Http404
    return incident


def _versions(user: Any, ids: list[int]) -> list[ModelVersion]:
    found = list(
        ModelVersion.objects.visible_to(user)
        .select_related("registered_model")
        .filter(pk__in=set(ids))
    )
    missing = sorted(set(ids) - {version.pk for version in found})
    if missing:
        # An unseen version and a missing one read the same: nothing about other teams.
        raise InvalidInput("No such version.", errors={"versions": missing})
    return found


class IncidentListCreateView(generics.GenericAPIView):
    """GET: the incidents of the teams the caller may see, newest first, in keyset pages,
    filtered and searched. POST: open one on a release (idempotent with a key)."""

    serializer_class = IncidentSerializer

    def get_queryset(self) -> QuerySet[Incident]:
        return filtered_incidents(self.request.user, text_query_params(self.request))

    @extend_schema(
        operation_id="incidents_list",
        parameters=[*INCIDENT_FILTERS, *keyset_parameters()],
        responses=IncidentSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(IncidentSerializer(page, many=True).data)

    @extend_schema(
        operation_id="incidents_open",
        request=IncidentOpenSerializer,
        responses={201: IncidentDetailSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, endpoint="incident-open", act=lambda: self._open(request))

    def _open(self, request: Request) -> Response:
        serializer = IncidentOpenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        release = visible_release(request.user, data["release"])
        incident = incident_open(
            actor=request.user,
            release=release,
            title=data["title"],
            severity=data["severity"],
            summary=data.get("summary", ""),
            versions=_versions(request.user, data.get("versions", [])),
            tags=data.get("tags", []),
            blocks_promotion=data["blocks_promotion"],
            environment=data.get("environment", ""),
            ring=data.get("ring", ""),
        )
        fresh = visible_incident(request.user, incident.pk)
        return Response(IncidentDetailSerializer(fresh).data, status=status.HTTP_201_CREATED)


class IncidentDetailView(generics.GenericAPIView):
    """One incident: timeline, tags, contributing factors, retrospective, release, versions."""

    serializer_class = IncidentDetailSerializer

    @extend_schema(responses=IncidentDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(IncidentDetailSerializer(visible_incident(request.user, pk)).data)


class IncidentTimelineView(generics.GenericAPIView):
    """POST: add a note to the incident's timeline (any state; a resolved incident takes
    follow-ups). Answers with the incident as it now reads."""

    serializer_class = TimelineNoteSerializer

    @extend_schema(
        operation_id="incidents_timeline_note",
        request=TimelineNoteSerializer,
        responses={201: IncidentDetailSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request: Request, pk: int) -> Response:
        def act() -> Response:
            incident = Incident.objects.visible_to(request.user).filter(pk=pk).first()
            if incident is None:
                raise Http404
            serializer = TimelineNoteSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            incident_note(
                actor=request.user, incident=incident, text=serializer.validated_data["text"]
            )
            fresh = visible_incident(request.user, pk)
            return Response(IncidentDetailSerializer(fresh).data, status=status.HTTP_201_CREATED)

        return idempotent(request, endpoint=f"incident-timeline:{pk}", act=act)
