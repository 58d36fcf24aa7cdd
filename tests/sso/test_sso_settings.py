"""SSO settings come from the environment and fail fast when half configured."""

from __future__ import annotations

import pytest

from tests.govboard.test_settings import import_settings, production_env

IDP = "https://idp.example.test/oauth2"
COMPLETE = {
    "OIDC_RP_CLIENT_ID": "govboard",
    "OIDC_RP_CLIENT_SECRET": "a-secret",
    "OIDC_OP_ISSUER": "https://idp.example.test",
    "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{IDP}/authorize",
    "OIDC_OP_TOKEN_ENDPOINT": f"{IDP}/token",
    "OIDC_OP_USER_ENDPOINT": f"{IDP}/userinfo",
    "OIDC_OP_JWKS_ENDPOINT": f"{IDP}/jwks",
}


def test_a_complete_configuration_starts_production(tmp_path):
    result = import_settings(production_env(tmp_path, **COMPLETE))

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"OIDC_OP_JWKS_ENDPOINT": None, "OIDC_RP_CLIENT_SECRET": ""},
            "OIDC_RP_CLIENT_ID is set: also set OIDC_OP_JWKS_ENDPOINT, OIDC_RP_CLIENT_SECRET",
        ),
        ({"OIDC_RP_SIGN_ALGO": "HS256"}, "OIDC_RP_SIGN_ALGO must be an RS or ES algorithm"),
        (
            {"OIDC_OP_TOKEN_ENDPOINT": "http://idp.example.test/token"},
            "OIDC_OP_TOKEN_ENDPOINT must be an https:// address.",
        ),
    ],
)
def test_a_half_or_unsafe_configuration_is_refused(tmp_path, overrides, message):
    result = import_settings(production_env(tmp_path, **{**COMPLETE, **overrides}))

    assert result.returncode != 0
    assert message in result.stderr


def test_without_a_client_id_sso_is_off_whatever_else_is_set(tmp_path):
    result = import_settings(
        production_env(tmp_path, **{**COMPLETE, "OIDC_RP_CLIENT_ID": "", "OIDC_RP_SIGN_ALGO": "x"})
    )

    assert result.returncode == 0, result.stderr
