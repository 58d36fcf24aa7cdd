"""OpenAPI description of the service-token scheme (loaded by registry.apps.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
