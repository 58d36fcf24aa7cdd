"""Release endpoints for CI: submit a release, list releases, read one with its diff and
ring state. Input shapes are explicit allow-lists (``StrictSerializer``); the service
decides everything else and its refusals become problem+json."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.params import text_query_params
from core.api.serializers import StrictSerializer
from core.ids import IdField
from registry import selectors
from registry.api.idempotency import idempotent
from registry.choices import ReleaseComponentKind
from registry.models import Release
from registry.release_diff import release_diff
from registry.release_manifest import release_integrity
from registry.services.releases import release_create
from registry.validators import validate_semver, validate_slug_name


class ReleaseComponentWriteSerializer(StrictSerializer):
    """One component: its kind and the id of what it pins (or, for versions and datasets,
    a reference: ``{"model": "[team/]name", "version": "1.2.0"}``)."""

    kind = serializers.ChoiceField(choices=ReleaseComponentKind.choices)
    model_version = IdField(required=False)
    dataset_version = IdField(required=False)
    evaluation = IdField(required=False, help_text="The eval package evidence id.")
    model = serializers.CharField(max_length=201, required=False)
    dataset = serializers.CharField(max_length=201, required=False)
    version = serializers.CharField(max_length=128, required=False)


class ReleaseNotesSerializer(StrictSerializer):
    what_changed = serializers.CharField(max_length=20000)
    why = serializers.CharField(max_length=20000)
    data_used = serializers.CharField(max_length=20000)
    channels_tested = serializers.ListField(
        child=serializers.CharField(max_length=100), min_length=1, max_length=50
    )
    expected_benefits = serializers.CharField(max_length=20000)
    known_risks = serializers.CharField(max_length=20000)
    rollback_triggers = serializers.ListField(
        child=serializers.CharField(max_length=1000), min_length=1, max_length=50
    )
    rollback_owner = serializers.CharField(max_length=150, help_text="A username.")
    rollback_target = IdField(required=False, allow_null=True, help_text="A prior release id.")
    rollback_feature_flag = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ReleaseCreateSerializer(StrictSerializer):
    team = serializers.CharField(max_length=100, validators=[validate_slug_name])
    name = serializers.CharField(max_length=100, validators=[validate_slug_name])
    version = serializers.CharField(max_length=128, validators=[validate_semver])
    components = ReleaseComponentWriteSerializer(many=True, allow_empty=False, max_length=200)
    notes = ReleaseNotesSerializer()


class ReleaseSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.slug")
    created_by = serializers.CharField(source="created_by.username")
    categories = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = [
            "id",
            "team",
            "name",
            "version",
            "state",
            "previous_release",
            "manifest_sha256",
            "categories",
            "change_categories",
            "created_by",
            "created_at",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_categories(self, release: Release) -> list[str]:
        return [item["category"] for item in release.change_categories]


class RingStateSerializer(serializers.Serializer):
    environment = serializers.CharField()
    ring = serializers.CharField()
    entered_at = serializers.DateTimeField()


class ReleaseDetailSerializer(ReleaseSerializer):
    notes = serializers.SerializerMethodField()
    components = serializers.JSONField(source="manifest")
    diff = serializers.SerializerMethodField()
    ring_state = serializers.SerializerMethodField()
    integrity = serializers.SerializerMethodField()

    class Meta(ReleaseSerializer.Meta):
        fields = [*ReleaseSerializer.Meta.fields, "notes", "components", "diff"]
        fields += ["ring_state", "integrity"]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_notes(self, release: Release) -> dict[str, Any]:
        return {
            "what_changed": release.what_changed,
            "why": release.why,
            "data_used": release.data_used,
            "channels_tested": release.channels_tested,
            "expected_benefits": release.expected_benefits,
            "known_risks": release.known_risks,
            "rollback_triggers": release.rollback_triggers,
            "rollback_owner": release.rollback_owner.username,
            "rollback_target": release.rollback_target_id,
            "rollback_feature_flag": release.rollback_feature_flag,
        }

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_diff(self, release: Release) -> dict[str, Any]:
        return release_diff(release).summary()

    @extend_schema_field(RingStateSerializer(many=True))
    def get_ring_state(self, release: Release) -> list[dict[str, Any]]:
        rows = release.ring_entries.order_by("environment", "entered_at", "id").values(
            "environment", "ring", "entered_at"
        )
        return RingStateSerializer(rows, many=True).data

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_integrity(self, release: Release) -> list[str]:
        return release_integrity(release)


RELEASE_FILTERS = [
    OpenApiParameter("team", str, description="Team slug"),
    OpenApiParameter("name", str, description="Release name (exact)"),
]


def releases_visible_to(user: Any) -> Any:
    return Release.objects.visible_to(user).select_related("team", "created_by")


def visible_release(user: Any, pk: int) -> Release:
    """The release ``pk`` if ``user`` may see it, else a 404 (the API's one answer for a
    release under a URL: its rings, its monitoring reports)."""
    release = Release.objects.visible_to(user).filter(pk=pk).first()
    if release is None:
        raise Http404
    return release


class ReleaseListCreateView(generics.GenericAPIView):
    """List visible releases (newest first), or submit one (idempotent)."""

    serializer_class = ReleaseSerializer

    def get_queryset(self):
        # The keyset page's order (core.pagination), on the (created_at, id) index.
        queryset = releases_visible_to(self.request.user).order_by("-created_at", "-id")
        params = text_query_params(self.request)
        if params.get("team"):
            queryset = queryset.filter(team__slug=params["team"])
        if params.get("name"):
            queryset = queryset.filter(name=params["name"])
        return queryset

    @extend_schema(
        operation_id="releases_list",
        parameters=RELEASE_FILTERS,
        responses=ReleaseSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ReleaseSerializer(page, many=True).data)

    @extend_schema(
        request=ReleaseCreateSerializer,
        responses={201: ReleaseDetailSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, endpoint="release-create", act=lambda: self._create(request))

    def _create(self, request: Request) -> Response:
        serializer = ReleaseCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        team = selectors.team_for_user(request.user, data["team"])
        if team is None:
            raise Http404("No such team.")
        components = [
            {key: value for key, value in item.items() if value is not None}
            for item in data["components"]
        ]
        release = release_create(
            request.user,
            team=team,
            name=data["name"],
            version=data["version"],
            components=components,
            notes=dict(data["notes"]),
        )
        release = releases_visible_to(request.user).get(pk=release.pk)
        return Response(ReleaseDetailSerializer(release).data, status=status.HTTP_201_CREATED)


class ReleaseDetailView(generics.GenericAPIView):
    """One release: notes, pinned components, categories, diff summary, ring state."""

    serializer_class = ReleaseDetailSerializer

    @extend_schema(responses=ReleaseDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        release = (
            releases_visible_to(request.user)
            .select_related("rollback_owner", "previous_release")
            .filter(pk=pk)
            .first()
        )
        if release is None:
            raise Http404
        return Response(ReleaseDetailSerializer(release).data)
