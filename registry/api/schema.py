"""OpenAPI description of the service-token scheme (loaded by registry.apps.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ServiceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "registry.api.authentication.ServiceTokenAuthentication"
    name = "serviceToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "gbt_<prefix>_<secret>",
            "description": "A service-account token, issued in the admin and shown once.",
        }


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem, as ``govboard.problems`` renders every API error."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.JSONField(required=False, help_text="Per-field messages, when any.")


# Every refusal the API can answer with (see govboard.problems and the policy table).
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
