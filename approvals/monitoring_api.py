"""Monitoring reports of a deployed release (issue 13): CI or the monitoring system uploads
one per window; the policy's rollback triggers are evaluated on it and a breach opens an
incident (``approvals.services.monitoring``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals.models import MonitoringReport
from approvals.services.monitoring import monitoring_report_upload
from core.errors import InvalidInput
from registry.api.idempotency import idempotent
from registry.api.releases import visible_release

# The newest reports a GET returns: a release reports every window for as long as it
# serves, so the list is bounded, never counted.
LATEST_REPORTS = 50


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


class ReleaseMonitoringReportsView(APIView):
    """GET: the release's newest monitoring reports. POST: upload one, with ``environment``
    and ``ring`` beside the report's fields; 201 when stored, 200 for a replay of the same
    window and body."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        release = visible_release(request.user, pk)
        reports = MonitoringReport.objects.filter(release=release).order_by("-window_end", "-id")[
            :LATEST_REPORTS
        ]
        return Response({"results": [report_representation(r) for r in reports]})

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
