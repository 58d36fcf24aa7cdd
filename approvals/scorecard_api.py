"""``GET /api/v1/scorecard/``: the governance scorecard as JSON (issue 13).

The figures and their definitions are ``approvals.scorecard``'s; the window is read by
``approvals.scorecard_window`` (the admin page's parser too). A bad window is a 400
problem naming the field; a team the caller may not see is a 404, like a missing one.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals.scorecard import governance_scorecard
from approvals.scorecard_window import window_from
from core.api.params import text_query_params


class LeadTimeSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Releases that first entered general.")
    median_days = serializers.FloatField(allow_null=True)
    p90_days = serializers.FloatField(allow_null=True)


class PolicyFailuresSerializer(serializers.Serializer):
    decided = serializers.IntegerField(help_text="Requests approved, rejected or sent back.")
    caught = serializers.IntegerField(
        help_text="Decided requests not approved with at least one failed check."
    )
    escaped = serializers.IntegerField(
        help_text="Incidents opened on something approved before they opened."
    )
    denominator = serializers.IntegerField(help_text="caught + escaped")
    share_caught = serializers.FloatField(allow_null=True, help_text="caught / denominator")


class ExceptionsSerializer(serializers.Serializer):
    granted = serializers.IntegerField()
    by_check = serializers.DictField(child=serializers.IntegerField())


class IncidentDaysSerializer(serializers.Serializer):
    window_days = serializers.IntegerField(help_text="Whole days of the window up to now.")
    incident_free_days = serializers.IntegerField()
    days_since_last_incident = serializers.IntegerField(allow_null=True)
    open_now = serializers.BooleanField()


class ScoreSerializer(serializers.Serializer):
    lead_time = LeadTimeSerializer()
    policy_failures = PolicyFailuresSerializer()
    exceptions = ExceptionsSerializer()
    incident_days = IncidentDaysSerializer()


class TeamScoreSerializer(ScoreSerializer):
    team = serializers.CharField(source="team_slug")
    name = serializers.CharField(source="team_name")


class ScorecardSerializer(serializers.Serializer):
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    as_of = serializers.DateTimeField(source="now")
    overall = ScoreSerializer()
    teams = TeamScoreSerializer(many=True)


class ScorecardView(APIView):
    """Governance metrics of the teams the caller may see: lead time to general release,
    policy failures caught before approval against those that escaped, exceptions granted,
    incident-free days."""

    @extend_schema(
        operation_id="scorecard_retrieve",
        responses=ScorecardSerializer,
        parameters=[
            OpenApiParameter(
                "window_start",
                str,
                description="YYYY-MM-DD or an ISO 8601 date and time with a zone; "
                "default: 90 days before window_end.",
            ),
            OpenApiParameter(
                "window_end",
                str,
                description="YYYY-MM-DD (inclusive) or an ISO 8601 date and time with a zone; "
                "default: now.",
            ),
            OpenApiParameter("team", str, description="A team's slug: only that team."),
        ],
    )
    def get(self, request: Request) -> Response:
        params = text_query_params(request)
        now = timezone.now()
        start, end = window_from(
            start_text=params.get("window_start"), end_text=params.get("window_end"), now=now
        )
        scorecard = governance_scorecard(
            user=request.user,
            window_start=start,
            window_end=end,
            now=now,
            team=params.get("team") or None,
        )
        return Response(ScorecardSerializer(scorecard).data)


__all__ = ["ScorecardSerializer", "ScorecardView"]
