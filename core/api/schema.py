"""The API's OpenAPI kernel: every operation documents its problem+json refusals.

``ProblemAutoSchema`` is the project's ``DEFAULT_SCHEMA_CLASS`` (no view names it).
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem, as ``core.problems`` renders every API error."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.JSONField(required=False, help_text="Per-field messages, when any.")


# Every refusal the API can answer with (see core.problems and the policy table).
PROBLEM_STATUS_CODES = ("400", "401", "403", "404", "409", "413", "415", "422", "429")


class ProblemAutoSchema(AutoSchema):
    """Documents the problem+json refusals beside each operation's success responses.

    Without them the schema promised only 2xx, so every documented refusal (a 404 for
    another team's object, a 400 for invalid input) was an undocumented status code.
    """

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in PROBLEM_STATUS_CODES:
            responses.setdefault(
                code,
                self._get_response_for_code(
                    OpenApiResponse(ProblemSerializer, description="A problem (RFC 9457)."),
                    code,
                    media_types=["application/problem+json"],
                    direction=direction,
                ),
            )
        return responses
