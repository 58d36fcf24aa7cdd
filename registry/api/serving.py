"""``GET /api/v1/served/?customer=C&at=T[&environment=E]``: which model and threshold served
customer C at time T (issue 13). One answer: ``registry.serving.served_at``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.params import text_query_params
from core.errors import InvalidInput
from registry.serving import served_at


def _moment(value: str | None) -> datetime:
    """An ISO 8601 datetime with a zone, in UTC; anything else (missing, naive, impossible,
    or at the calendar's edge, where converting or stepping past it overflows) is a 400."""
    try:
        parsed = parse_datetime(value or "")
        if parsed is not None and parsed.tzinfo is not None:
            moment = parsed.astimezone(UTC)
            moment + timedelta(microseconds=1)  # the selector's half-open window end
            return moment
    except (ValueError, OverflowError):
        pass
    raise InvalidInput("at must be an ISO 8601 datetime with a time zone.")


class ServedAtView(APIView):
    """The deployments live for a customer at a moment, each with its release and the
    release's model, threshold/config (with its parameters) and SDK versions."""

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("customer", str, required=True, description="Customer scope"),
            OpenApiParameter("at", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("environment", str),
        ],
    )
    def get(self, request: Request) -> Response:
        params = text_query_params(request)
        customer = (params.get("customer") or "").strip()
        if not customer:
            raise InvalidInput("customer is required.")
        at = _moment(params.get("at"))
        served = served_at(
            actor=request.user,
            customer=customer,
            at=at,
            environment=(params.get("environment") or "").strip() or None,
        )
        return Response({"customer": customer, "at": at.isoformat(), "served": served})
