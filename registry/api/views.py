"""Registry endpoints for CI: register models and versions, list versions."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from govboard.errors import InvalidInput
from registry import selectors, services
from registry.api.permissions import TokenScopeAllows
from registry.api.serializers import (
    RegisteredModelSerializer,
    RegisteredModelWriteSerializer,
    VersionRegisterSerializer,
    VersionSerializer,
)
from registry.choices import TokenScope


class RegisteredModelView(APIView):
    """Read, create or update a registered model's metadata."""

    permission_classes = [TokenScopeAllows]
    required_scopes = {"GET": TokenScope.READ, "PUT": TokenScope.REGISTER}

    def _team(self, request: Request, team: str) -> Any:
        found = selectors.team_for_user(request.user, team)
        if found is None:
            raise Http404
        return found

    @extend_schema(responses=RegisteredModelSerializer)
    def get(self, request: Request, team: str, name: str) -> Response:
        model = selectors.models_visible_to(request.user).filter(team__slug=team, name=name).first()
        if model is None:
            raise Http404
        return Response(RegisteredModelSerializer(model).data)

    @extend_schema(request=RegisteredModelWriteSerializer, responses=RegisteredModelSerializer)
    def put(self, request: Request, team: str, name: str) -> Response:
        team_obj = self._team(request, team)
        serializer = RegisteredModelWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        model, created = services.registered_model_upsert(
            actor=request.user, team=team_obj, name=name, **serializer.validated_data
        )
        return Response(
            RegisteredModelSerializer(model).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class VersionListCreateView(generics.GenericAPIView):
    """List visible versions, or register a new one (idempotent on version + checksum)."""

    permission_classes = [TokenScopeAllows]
    required_scopes = {"GET": TokenScope.READ, "POST": TokenScope.REGISTER}
    serializer_class = VersionSerializer

    def get_queryset(self):
        queryset = selectors.versions_visible_to(self.request.user).order_by("-id")
        params = self.request.query_params
        if params.get("team"):
            queryset = queryset.filter(registered_model__team__slug=params["team"])
        if params.get("model"):
            queryset = queryset.filter(registered_model__name=params["model"])
        if params.get("state"):
            queryset = queryset.filter(state=params["state"])
        return queryset

    @extend_schema(operation_id="versions_list")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(VersionSerializer(page, many=True).data)

    @extend_schema(request=VersionRegisterSerializer, responses=VersionSerializer)
    def post(self, request: Request) -> Response:
        serializer = VersionRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        team_slug, model_name = data.pop("team"), data.pop("model")
        model = (
            selectors.models_visible_to(request.user)
            .filter(team__slug=team_slug, name=model_name)
            .first()
        )
        if model is None:
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
