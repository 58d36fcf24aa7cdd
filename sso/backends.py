"""Authentication backends: the OpenID Connect login, and the gate that, while SSO is on,
lets only break-glass accounts sign in with a password.

mozilla-django-oidc's own token check skips the audience and issuer (``verify_aud`` is off)
and lets an expired token raise past its error handling, so ``verify_token`` here does the
whole ID token validation of OpenID Connect Core 3.1.3.7: the configured algorithm (RS/ES,
key from the provider's JWKS), issuer, audience (and ``azp`` when there are several),
expiry, issue time, and the nonce of this login.
"""

from __future__ import annotations

import logging
from typing import Any

import jwt
import requests
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from sso import conf, services
from sso.models import BreakGlassAccount

logger = logging.getLogger(__name__)

#: Asymmetric algorithms only: with HS256 the library would verify with the client secret.
ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
#: Clock skew tolerated between the provider and this server.
LEEWAY_SECONDS = 30


class PasswordSignInGate:
    """While SSO is on, refuses the password sign-in of every account that is not a
    break-glass account, before any password backend (the lockout's) is asked.

    Listed first in ``AUTHENTICATION_BACKENDS``. It authenticates nobody itself: for an
    unknown name, a break-glass account, or with SSO off it answers None and the next
    backend decides (so break-glass accounts stay under the lockout). The refusal is the
    same whether the password was right or wrong (no oracle); a right one is audited as
    ``auth.password_login_refused``. Raising ``PermissionDenied`` stops ``authenticate()``.

    Deliberately no base class: without ``get_user`` it is never the backend a session (or
    the test client's ``force_login``) is bound to, and it answers no permission question.
    """

    def authenticate(self, request: Any, username: Any = None, password: Any = None, **kwargs):
        if password is None or not conf.sso_enabled():
            return None
        user_model = get_user_model()
        if username is None:
            username = kwargs.get(user_model.USERNAME_FIELD)
        if username is None:
            return None
        user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
        if user is None or BreakGlassAccount.objects.filter(user=user).exists():
            return None
        if user.check_password(password) and user.is_active:
            services.password_login_refused_record(user=user, request=request)
        raise PermissionDenied("Password sign-in is for break-glass accounts while SSO is on.")


class GovboardOIDCBackend(OIDCAuthenticationBackend):
    """The OpenID Connect authorization-code login: users are found by issuer and subject,
    created with an unusable password, and get their team roles from the group mapping
    (``sso.services.sso_login``). Inert while SSO is unconfigured; it authenticates only
    the callback's code exchange, never a username and password, and answers no
    permission question (the password backend and guardian do)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.enabled = conf.sso_enabled()
        self.UserModel = get_user_model()
        if self.enabled:
            # The library's constructor raises on missing settings: only when configured.
            super().__init__(*args, **kwargs)

    def authenticate(self, request: Any, **kwargs: Any):
        if not self.enabled or request is None or "nonce" not in kwargs:
            return None  # not the SSO callback (e.g. a password login)
        if "username" in kwargs or "password" in kwargs:
            return None
        try:
            return super().authenticate(request, **kwargs)
        except requests.RequestException as exc:
            # A refused or unreachable token/userinfo/JWKS endpoint (e.g. a used code).
            logger.warning("SSO login failed talking to the identity provider: %s", exc)
            return None

    def verify_token(self, token: Any, **kwargs: Any) -> dict[str, Any]:
        return self.verify_id_token(token, nonce=kwargs.get("nonce"))

    def verify_id_token(self, token: Any, *, nonce: str | None) -> dict[str, Any]:
        """The ID token's claims after full validation; SuspiciousOperation otherwise."""
        if not isinstance(token, str) or not token:
            raise SuspiciousOperation("The provider returned no ID token.")
        algorithm = self.OIDC_RP_SIGN_ALGO
        if algorithm not in ALLOWED_ALGORITHMS:
            raise SuspiciousOperation(f"Signing algorithm {algorithm!r} is not allowed.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise SuspiciousOperation(f"The ID token is malformed: {exc}") from exc
        if header.get("alg") != algorithm:
            raise SuspiciousOperation("The ID token is not signed with the configured algorithm.")
        if "kid" not in header:
            raise SuspiciousOperation("The ID token names no signing key (kid).")
        key = self.retrieve_matching_jwk(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=conf.issuer(),
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.InvalidTokenError as exc:
            raise SuspiciousOperation(f"The ID token is not valid: {exc}") from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SuspiciousOperation("The ID token was issued to another party (azp).")
        if nonce is None or claims.get("nonce") != nonce:
            raise SuspiciousOperation("The ID token's nonce is not this login's.")
        return claims

    def get_or_create_user(self, access_token: Any, id_token: Any, payload: dict[str, Any]):
        user_info = self.get_userinfo(access_token, id_token, payload)
        if str(user_info.get("sub")) != str(payload["sub"]):
            # OpenID Connect Core 5.3.2: userinfo of another subject must not be used.
            raise SuspiciousOperation("The userinfo subject is not the ID token's subject.")
        # Signed ID token claims win over userinfo ones.
        claims = {**user_info, **payload}
        return services.sso_login(
            issuer=conf.issuer(), claims=claims, groups_claim=conf.groups_claim()
        )

    def get_user(self, user_id: Any):
        """The session's user, unless deactivated since (the library's skips that check)."""
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None

    # Authentication only: permissions are answered by the password backend and guardian.
    def get_user_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return set()

    def get_group_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return set()

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return set()

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return False

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return False
