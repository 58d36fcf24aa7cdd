"""``GET /api/v1/served/?customer=C&at=T[&environment=E]``: which model and threshold served
customer C at time T (issue 13), in keyset pages like every API list (issue 14). One answer:
``registry.serving.served_deployments``, each row ``registry.serving.served_row``."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.params import aware_datetime_param, text_query_params
from core.errors import InvalidInput
from core.pagination import keyset_parameters
from registry.serving import served_deployments, served_row


class ServedAtView(generics.GenericAPIView):
    """The deployments live for a customer at a moment, newest start first, each with its
    release and the release's model, threshold/config (with its parameters) and SDK
    versions. A customer's live set has no bound of its own: it is paged, never counted."""

    @extend_schema(
        operation_id="served_at_list",
        responses={200: OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("customer", str, required=True, description="Customer scope"),
            OpenApiParameter("at", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("environment", str),
            *keyset_parameters(),
        ],
    )
    def get(self, request: Request) -> Response:
        params = text_query_params(request)
        customer = (params.get("customer") or "").strip()
        if not customer:
            raise InvalidInput("customer is required.")
        at = aware_datetime_param(params.get("at"), "at")
        if at is None:
            raise InvalidInput("at is required.")
        deployments = served_deployments(
            request.user,
            customer=customer,
            at=at,
            environment=(params.get("environment") or "").strip() or None,
        )
        page = self.paginate_queryset(deployments)
        return self.get_paginated_response([served_row(deployment) for deployment in page])
