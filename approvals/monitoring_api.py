"""Monitoring reports of a deployed release (issue 13): CI or the monitoring system uploads
one per window; the policy's rollback triggers are evaluated on it and a breach opens an
incident (``approvals.services.monitoring``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from approvals.models import MonitoringReport
from approvals.services.monitoring import monitoring_report_upload
from core.errors import InvalidInput
from core.pagination import keyset_parameters
from registry.api.idempotency import idempotent
from registry.api.releases import visible_release


def report_representation(report: MonitoringReport) -> dict[str, Any]:
    return {
        "id": report.pk,
        "release": report.release_id,
        "environment": report.environment,
        "ring": report.ring,
        "window_start": report.window_start.isoformat(),
        "window_end": report.window_end.isoformat(),
        "request_volume": report.request_volume,
        "latency_p95_ms": report.latency_p95_ms,
        "retry_rate": report.retry_rate,
        "disagreement_rate": report.disagreement_rate,
        "segments": report.segments,
        "drift_scores": report.drift_scores,
        "body_sha256": report.body_sha256,
        "breaches": report.breaches,
        "uploaded_at": report.uploaded_at.isoformat(),
    }


class ReleaseMonitoringReportsView(generics.GenericAPIView):
    """GET: the release's monitoring reports, newest window first, in keyset pages (a
    release reports every window for as long as it serves: never counted). POST: upload
    one, with ``environment`` and ``ring`` beside the report's fields; 201 when stored, 200
    for a replay of the same window and body."""

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        parameters=keyset_parameters(),
    )
    def get(self, request: Request, pk: int) -> Response:
        release = visible_release(request.user, pk)
        # The (release, window_end, id) index serves this order.
        reports = MonitoringReport.objects.filter(release=release).order_by("-window_end", "-id")
        page = self.paginate_queryset(reports)
        return self.get_paginated_response([report_representation(r) for r in page])

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, pk: int) -> Response:
        def act() -> Response:
            release = visible_release(request.user, pk)
            if not isinstance(request.data, dict):
                raise InvalidInput("The body must be a JSON object.")
            payload = dict(request.data)
            where = {name: payload.pop(name, None) for name in ("environment", "ring")}
            missing = {
                name: ["This field is required."]
                for name, value in where.items()
                if not isinstance(value, str) or not value.strip()
            }
            if missing:
                raise InvalidInput("The report names no environment or ring.", errors=missing)
            upload = monitoring_report_upload(
                actor=request.user,
                release=release,
                environment=where["environment"].strip(),
                ring=where["ring"].strip(),
                payload=payload,
            )
            answer = report_representation(upload.report) | {
                "incident": upload.incident.pk if upload.incident else None
            }
            code = status.HTTP_201_CREATED if upload.created else status.HTTP_200_OK
            return Response(answer, status=code)

        return idempotent(request, endpoint=f"release-monitoring:{pk}", act=act)
