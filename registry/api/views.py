"""Registry endpoints for CI: models, versions, evidence and deployments."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.params import aware_datetime_param, text_query_params
from core.errors import InvalidInput
from core.ids import parse_id
from core.parsers import PayloadTooLarge, StrictJSONParser
from core.permissions import Verb, allowed
from registry import selectors, services
from registry.api.idempotency import idempotent
from registry.api.serializers import (
    DatasetLinkSerializer,
    DatasetLinkWriteSerializer,
    DeploymentEndSerializer,
    DeploymentSerializer,
    DeploymentWriteSerializer,
    EvidenceJSONUploadSerializer,
    EvidenceMultipartUploadSerializer,
    EvidenceSerializer,
    RegisteredModelSerializer,
    RegisteredModelWriteSerializer,
    VersionRegisterSerializer,
)
from registry.model_lookup import model_by_name
from registry.models import Evidence, VersionDataset
from registry.representations import VersionSerializer
from registry.validators import validate_slug_name


class RegisteredModelView(APIView):
    """Read, create or update a registered model's metadata."""

    @extend_schema(responses=RegisteredModelSerializer)
    def get(self, request: Request, team: str, name: str) -> Response:
        _validate_path_names(team=team, name=name)
        model = selectors.models_visible_to(request.user).filter(team__slug=team, name=name).first()
        if model is None:
            raise Http404
        return Response(RegisteredModelSerializer(model).data)

    @extend_schema(
        request=RegisteredModelWriteSerializer,
        responses={200: RegisteredModelSerializer, 201: RegisteredModelSerializer},
    )
    def put(self, request: Request, team: str, name: str) -> Response:
        _validate_path_names(team=team, name=name)
        team_obj = selectors.team_for_user(request.user, team)
        if team_obj is None:
            raise Http404
        serializer = RegisteredModelWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        model, created = services.registered_model_upsert(
            actor=request.user, team=team_obj, name=name, **serializer.validated_data
        )
        return Response(
            RegisteredModelSerializer(model).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


VERSION_FILTERS = [
    OpenApiParameter("team", str, description="Team slug"),
    OpenApiParameter(
        "model", str, description="Registered model name (its versions come by precedence)"
    ),
    OpenApiParameter("state", str, description="Lifecycle state"),
]


class VersionListCreateView(generics.GenericAPIView):
    """List visible versions (newest first; with ``model``, highest precedence first), or
    register one (idempotent)."""

    serializer_class = VersionSerializer

    def get_queryset(self):
        # The keyset page's order (core.pagination): newest first; one model's versions
        # highest semver precedence first (semver_key sorts as precedence, and is indexed).
        queryset = selectors.versions_visible_to(self.request.user).order_by("-id")
        params = text_query_params(self.request)
        if params.get("team"):
            queryset = queryset.filter(registered_model__team__slug=params["team"])
        if params.get("model"):
            queryset = queryset.filter(registered_model__name=params["model"])
            queryset = queryset.order_by("-semver_key", "-id")
        if params.get("state"):
            queryset = queryset.filter(state=params["state"])
        return queryset

    @extend_schema(
        operation_id="versions_list",
        parameters=VERSION_FILTERS,
        responses=VersionSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(VersionSerializer(page, many=True).data)

    @extend_schema(
        request=VersionRegisterSerializer,
        responses={200: VersionSerializer, 201: VersionSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, endpoint="version-register", act=lambda: self._register(request))

    def _register(self, request: Request) -> Response:
        serializer = VersionRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        team_slug, model_name = data.pop("team"), data.pop("model")
        # The model and its team in one statement written once (registry.model_lookup); a
        # hidden model is a missing one.
        model = model_by_name(team_slug, model_name)
        if model is None or not allowed(request.user, Verb.READ, model.team):
            raise Http404("No such registered model. Create it with PUT /api/v1/teams/…/models/….")
        base_id = data.pop("base_model_version", None)
        if base_id is not None:
            base = selectors.versions_visible_to(request.user).filter(pk=base_id).first()
            if base is None:
                raise InvalidInput(
                    "The base model version does not exist.",
                    errors={"base_model_version": ["not found"]},
                )
            data["base_model_version"] = base
        version, created = services.version_register(
            actor=request.user, registered_model=model, **data
        )
        return Response(
            VersionSerializer(version).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class VersionEvidenceView(APIView):
    """List a version's evidence, or upload one document (multipart or JSON)."""

    parser_classes = [MultiPartParser, StrictJSONParser]

    def _version(self, request: Request, pk: int) -> Any:
        version = selectors.versions_visible_to(request.user).filter(pk=pk).first()
        if version is None:
            raise Http404
        return version

    @extend_schema(responses=EvidenceSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        version = self._version(request, pk)
        evidence = Evidence.objects.filter(version=version).order_by("-id")[:200]
        return Response(EvidenceSerializer(evidence, many=True).data)

    @extend_schema(
        request={
            "multipart/form-data": EvidenceMultipartUploadSerializer,
            "application/json": EvidenceJSONUploadSerializer,
        },
        responses={201: EvidenceSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        # Refuse oversized bodies from the declared length, before any byte is parsed.
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError as exc:
            raise InvalidInput("Invalid Content-Length.") from exc
        if declared > services.max_evidence_bytes() + 64 * 1024:
            raise PayloadTooLarge()
        version = self._version(request, pk)
        if request.content_type.startswith("multipart/"):
            serializer = EvidenceMultipartUploadSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            upload = serializer.validated_data["file"]
            content, filename = upload, upload.name or ""
            media_type = upload.content_type or "application/octet-stream"
        else:
            serializer = EvidenceJSONUploadSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            content = serializer.content_stream()
            filename = serializer.validated_data.get("filename", "")
            media_type = "application/json"
        evidence = services.evidence_attach(
            actor=request.user,
            version=version,
            kind=serializer.validated_data["kind"],
            content=content,
            media_type=media_type,
            client_filename=filename,
            declared_sha256=serializer.validated_data.get("sha256"),
        )
        return Response(EvidenceSerializer(evidence).data, status=status.HTTP_201_CREATED)


class DeploymentListCreateView(generics.GenericAPIView):
    """List deployments (filter by environment, customer scope, time window) or record one."""

    serializer_class = DeploymentSerializer

    def get_queryset(self):
        params = text_query_params(self.request)
        return selectors.deployments_visible_to(
            self.request.user,
            environment=params.get("environment") or None,
            customer_scope=params.get("customer_scope") or None,
            version_id=parse_id(params.get("version"), name="version"),
            active_from=aware_datetime_param(params.get("from"), "from"),
            active_until=aware_datetime_param(params.get("until"), "until"),
        )

    @extend_schema(
        operation_id="deployments_list",
        responses=DeploymentSerializer(many=True),
        parameters=[
            OpenApiParameter("environment", str),
            OpenApiParameter("customer_scope", str),
            OpenApiParameter("version", int),
            OpenApiParameter("from", str, description="ISO datetime: served at or after"),
            OpenApiParameter("until", str, description="ISO datetime: served before"),
        ],
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(DeploymentSerializer(page, many=True).data)

    @extend_schema(request=DeploymentWriteSerializer, responses={201: DeploymentSerializer})
    def post(self, request: Request) -> Response:
        serializer = DeploymentWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version = selectors.versions_visible_to(request.user).filter(pk=data.pop("version")).first()
        if version is None:
            raise Http404
        deployment = services.deployment_record(actor=request.user, version=version, **data)
        deployment = selectors.deployments_visible_to(request.user).get(pk=deployment.pk)
        return Response(DeploymentSerializer(deployment).data, status=status.HTTP_201_CREATED)


class DeploymentEndView(APIView):
    """Close a deployment window."""

    @extend_schema(request=DeploymentEndSerializer, responses=DeploymentSerializer)
    def post(self, request: Request, pk: int) -> Response:
        deployment = selectors.deployments_visible_to(request.user).filter(pk=pk).first()
        if deployment is None:
            raise Http404
        serializer = DeploymentEndSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.deployment_end(
            actor=request.user,
            deployment=deployment,
            ended_at=serializer.validated_data["ended_at"],
        )
        deployment = selectors.deployments_visible_to(request.user).get(pk=pk)
        return Response(DeploymentSerializer(deployment).data)


def _validate_path_names(**values: str) -> None:
    """Path segments are validated exactly like the same names in a body: a trailing
    newline, NUL or capital letter is a 400, never a look-alike model or a silent 404."""
    errors: dict[str, list[str]] = {}
    for name, value in values.items():
        try:
            validate_slug_name(value)
        except ValidationError as exc:
            errors[name] = exc.messages
    if errors:
        raise InvalidInput("The URL names an invalid team or model.", errors=errors)


class VersionDatasetsView(APIView):
    """The datasets a version was trained or evaluated on (with time windows)."""

    def _version(self, request: Request, pk: int) -> Any:
        version = selectors.versions_visible_to(request.user).filter(pk=pk).first()
        if version is None:
            raise Http404
        return version

    @extend_schema(responses=DatasetLinkSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        links = (
            VersionDataset.objects.filter(model_version=self._version(request, pk))
            .select_related("dataset_version__dataset")
            .order_by("id")
        )
        return Response(DatasetLinkSerializer(links, many=True).data)

    @extend_schema(
        request=DatasetLinkWriteSerializer,
        responses={200: DatasetLinkSerializer, 201: DatasetLinkSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        version = self._version(request, pk)
        serializer = DatasetLinkWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        link, created = services.version_dataset_link(
            actor=request.user,
            version=version,
            dataset=data["dataset"],
            dataset_version=data["version"],
            use=data["use"],
            window_start=data["window_start"],
            window_end=data["window_end"],
            uri=data["uri"],
            checksum=data["checksum"],
            license=data["license"],
        )
        return Response(
            DatasetLinkSerializer(link).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
