"""Promotion endpoints for CI: request promotion, read a request's or a version's status."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import selectors, services
from approvals.models import CheckResult, PromotionRequest, SignOff
from govboard.errors import InvalidInput
from registry import selectors as registry_selectors
from registry.api.schema import ProblemAutoSchema
from registry.api.serializers import StrictSerializer, VersionSerializer
from registry.api.views import text_query_params


class SignOffSerializer(serializers.ModelSerializer):
    signer = serializers.CharField(source="signer.username")

    class Meta:
        model = SignOff
        fields = ["role", "signer", "signed_at", "signed_checksum", "meaning"]
        read_only_fields = fields


class CheckResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = CheckResult
        fields = ["check_name", "passed", "critical", "detail", "observed", "run_at"]
        read_only_fields = fields


class PromotionRequestSerializer(serializers.ModelSerializer):
    signoffs = SignOffSerializer(many=True, read_only=True)
    checks = CheckResultSerializer(source="check_results", many=True, read_only=True)
    requested_by = serializers.CharField(source="requested_by.username")
    policy = serializers.JSONField(source="policy_snapshot")

    class Meta:
        model = PromotionRequest
        fields = [
            "id",
            "version",
            "state",
            "policy",
            "requested_by",
            "rollback_target",
            "rollback_plan",
            "reasons",
            "checks",
            "signoffs",
            "created_at",
            "decided_at",
        ]
        read_only_fields = fields


class PromotionSubmitSerializer(StrictSerializer):
    version = serializers.IntegerField(min_value=1)
    rollback_target = serializers.IntegerField(min_value=1, required=False)
    rollback_plan = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class VersionStatusSerializer(VersionSerializer):
    promotion_requests = PromotionRequestSerializer(many=True, read_only=True)

    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "promotion_requests"]
        read_only_fields = fields


class PromotionRequestListCreateView(generics.GenericAPIView):
    """List visible promotion requests (filter by state, team, version) or request one."""

    schema = ProblemAutoSchema()

    serializer_class = PromotionRequestSerializer

    def get_queryset(self):
        queryset = selectors.request_with_evidence(
            selectors.requests_visible_to(self.request.user)
        ).order_by("-id")
        params = text_query_params(self.request)
        if params.get("state"):
            queryset = queryset.filter(state=params["state"])
        if params.get("team"):
            queryset = queryset.filter(version__registered_model__team__slug=params["team"])
        if params.get("version", "").isascii() and params.get("version", "").isdigit():
            queryset = queryset.filter(version_id=int(params["version"]))
        return queryset

    @extend_schema(
        operation_id="promotion_requests_list",
        responses=PromotionRequestSerializer(many=True),
        parameters=[
            OpenApiParameter("state", str),
            OpenApiParameter("team", str),
            OpenApiParameter("version", int),
        ],
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(PromotionRequestSerializer(page, many=True).data)

    @extend_schema(request=PromotionSubmitSerializer, responses={201: PromotionRequestSerializer})
    def post(self, request: Request) -> Response:
        serializer = PromotionSubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        visible = registry_selectors.versions_visible_to(request.user)
        version = visible.filter(pk=serializer.validated_data["version"]).first()
        if version is None:
            raise Http404
        rollback_target = None
        if "rollback_target" in serializer.validated_data:
            rollback_target = visible.filter(
                pk=serializer.validated_data["rollback_target"]
            ).first()
            if rollback_target is None:
                raise InvalidInput(
                    "The rollback target does not exist.", errors={"rollback_target": ["not found"]}
                )
        promotion = services.promotion_request_submit(
            actor=request.user,
            version=version,
            rollback_target=rollback_target,
            rollback_plan=serializer.validated_data.get("rollback_plan", ""),
        )
        fresh = selectors.request_with_evidence(
            PromotionRequest.objects.select_related("requested_by")
        ).get(pk=promotion.pk)
        return Response(PromotionRequestSerializer(fresh).data, status=status.HTTP_201_CREATED)


class PromotionRequestDetailView(APIView):
    schema = ProblemAutoSchema()

    @extend_schema(responses=PromotionRequestSerializer)
    def get(self, request: Request, pk: int) -> Response:
        promotion = (
            selectors.request_with_evidence(selectors.requests_visible_to(request.user))
            .filter(pk=pk)
            .first()
        )
        if promotion is None:
            raise Http404
        return Response(PromotionRequestSerializer(promotion).data)


class VersionStatusView(APIView):
    """A version with its promotion requests, their checks and sign-offs."""

    schema = ProblemAutoSchema()

    @extend_schema(responses=VersionStatusSerializer)
    def get(self, request: Request, pk: int) -> Response:
        version = (
            registry_selectors.versions_visible_to(request.user)
            .prefetch_related(
                Prefetch(
                    "promotion_requests",
                    queryset=selectors.request_with_evidence(
                        PromotionRequest.objects.select_related("requested_by").order_by("id")
                    ),
                )
            )
            .filter(pk=pk)
            .first()
        )
        if version is None:
            raise Http404
        return Response(VersionStatusSerializer(version).data)
