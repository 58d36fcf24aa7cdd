"""Ring endpoints: read a release's ring state, request its next ring (issue 13)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals.api import PromotionRequestSerializer
from approvals.rings_state import ring_state
from approvals.selectors import request_with_evidence
from approvals.services.rings import ring_entry_request
from core.api.params import text_query_params
from core.api.serializers import StrictSerializer
from registry.api.idempotency import idempotent
from registry.api.releases import visible_release
from registry.choices import Ring


class RingRequestSerializer(StrictSerializer):
    environment = serializers.SlugField(max_length=64)
    ring = serializers.ChoiceField(choices=Ring.choices)


class ReleaseRingsView(APIView):
    """GET: the release's ring state per environment. POST: request entry to a ring."""

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        parameters=[OpenApiParameter("environment", str, description="Include this one too")],
    )
    def get(self, request: Request, pk: int) -> Response:
        release = visible_release(request.user, pk)
        environment = text_query_params(request).get("environment")
        return Response(ring_state(release, environments=[environment] if environment else None))

    @extend_schema(request=RingRequestSerializer, responses={201: PromotionRequestSerializer})
    def post(self, request: Request, pk: int) -> Response:
        def act() -> Response:
            release = visible_release(request.user, pk)
            serializer = RingRequestSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            promotion = ring_entry_request(
                actor=request.user,
                release=release,
                environment=serializer.validated_data["environment"],
                ring=serializer.validated_data["ring"],
            )
            fresh = request_with_evidence(
                type(promotion).objects.select_related("requested_by")
            ).get(pk=promotion.pk)
            return Response(PromotionRequestSerializer(fresh).data, status=status.HTTP_201_CREATED)

        return idempotent(request, endpoint=f"release-rings:{pk}", act=act)
