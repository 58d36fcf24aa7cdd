"""SSO pages: the OpenID Connect login (mozilla-django-oidc's views, 404 while SSO is off,
failures shown on the admin login page instead of a bare 400) and the sign-off
re-authentication at the identity provider (``sso.reauth``)."""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from mozilla_django_oidc.utils import absolutify, generate_code_challenge
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from sso import conf, reauth, services
from sso.backends import GovboardOIDCBackend

logger = logging.getLogger(__name__)


def _require_sso() -> None:
    if not conf.sso_enabled():
        raise Http404("Single sign-on is not configured.")


class LoginStartView(OIDCAuthenticationRequestView):
    """Redirect to the provider's authorization endpoint (state, nonce and PKCE in the session)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        _require_sso()
        return super().get(request)


class LoginCallbackView(OIDCAuthenticationCallbackView):
    """The provider's redirect back: state checked and consumed, code exchanged, ID token
    verified (``GovboardOIDCBackend.verify_id_token``), user signed in. Any failure leaves
    no session and sends the person back to the admin login page with a message."""

    def get(self, request: HttpRequest) -> HttpResponse:
        _require_sso()
        try:
            return super().get(request)
        except SuspiciousOperation as exc:
            # An unknown or replayed state, a forged, expired or misaddressed ID token.
            logger.warning("SSO login refused: %s", exc)
            return self.login_failure()

    def login_failure(self) -> HttpResponse:
        if self.request.user.is_authenticated:
            logout(self.request)
        messages.error(
            self.request, f"Sign-in with {conf.provider_name()} failed. Please try again."
        )
        return HttpResponseRedirect(reverse("admin:login"))


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("admin:index")


@method_decorator(login_required, name="dispatch")
class ReauthStartView(View):
    """Send an SSO user to the provider to sign in again: ``prompt=login`` and ``max_age=0``
    (the provider must ask for credentials and report ``auth_time``)."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        _require_sso()
        next_url = _safe_next(request, request.GET.get("next"))
        if reauth.identity_of(request.user) is None:
            messages.error(
                request,
                "Your account does not sign in with single sign-on: "
                "sign with your password or a one-time code.",
            )
            return HttpResponseRedirect(next_url)
        state = get_random_string(32)
        nonce = get_random_string(32)
        code_verifier = get_random_string(64)
        flows = dict(request.session.get(reauth.FLOWS_SESSION_KEY, {}))
        while len(flows) >= reauth.MAX_OPEN_FLOWS:
            flows.pop(next(iter(flows)))
        flows[state] = {
            "nonce": nonce,
            "code_verifier": code_verifier,
            "next": next_url,
            "user": request.user.pk,
            "started_at": timezone.now().isoformat(),
        }
        request.session[reauth.FLOWS_SESSION_KEY] = flows
        params = {
            "response_type": "code",
            "scope": "openid",
            "client_id": settings.OIDC_RP_CLIENT_ID,
            "redirect_uri": absolutify(request, reverse("sso:reauth-callback")),
            "state": state,
            "nonce": nonce,
            "prompt": "login",
            "max_age": "0",
            "code_challenge": generate_code_challenge(code_verifier, "S256"),
            "code_challenge_method": "S256",
        }
        return HttpResponseRedirect(
            f"{settings.OIDC_OP_AUTHORIZATION_ENDPOINT}?{urlencode(params)}"
        )


@method_decorator(login_required, name="dispatch")
class ReauthCallbackView(View):
    """The provider's answer to a re-authentication: the state is consumed (a replay finds
    nothing), the code exchanged, the ID token verified, its subject and ``auth_time``
    checked (``sso.reauth.check_fresh``); only then is the re-authentication remembered in
    the session and audited."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        _require_sso()
        state = request.GET.get("state", "")
        flows = dict(request.session.get(reauth.FLOWS_SESSION_KEY, {}))
        flow = flows.pop(state, None) if state else None
        request.session[reauth.FLOWS_SESSION_KEY] = flows
        reauth.forget(request)  # a refused attempt must not leave an older one usable
        try:
            authenticated_at, identity = self._verify(request, flow)
        except (SuspiciousOperation, reauth.ReauthRefused, requests.RequestException) as exc:
            logger.warning("SSO re-authentication refused for %s: %s", request.user, exc)
            messages.error(request, f"Re-authentication with {conf.provider_name()} failed: {exc}")
            return HttpResponseRedirect(_safe_next(request, flow and flow.get("next")))
        reauth.remember(request, identity=identity, authenticated_at=authenticated_at)
        services.idp_reauthentication_record(
            user=request.user, identity=identity, auth_time=authenticated_at
        )
        minutes = int(conf.reauth_max_age().total_seconds() // 60)
        messages.success(
            request,
            f"Re-authenticated with {conf.provider_name()}: sign within {minutes} minutes.",
        )
        return HttpResponseRedirect(flow["next"])

    def _verify(self, request: HttpRequest, flow: dict | None):
        if flow is None:
            raise reauth.ReauthRefused("this answer belongs to no re-authentication started here")
        if flow.get("user") != request.user.pk:
            raise reauth.ReauthRefused("it was started by another user")
        if request.GET.get("error"):
            raise reauth.ReauthRefused(f"the provider said {request.GET['error']!r}")
        code = request.GET.get("code")
        if not code:
            raise reauth.ReauthRefused("the provider sent no code")
        identity = reauth.identity_of(request.user)
        if identity is None:
            raise reauth.ReauthRefused("your account does not sign in with single sign-on")
        backend = GovboardOIDCBackend()
        tokens = backend.get_token(
            {
                "client_id": settings.OIDC_RP_CLIENT_ID,
                "client_secret": settings.OIDC_RP_CLIENT_SECRET,
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": absolutify(request, reverse("sso:reauth-callback")),
                "code_verifier": flow["code_verifier"],
            }
        )
        claims = backend.verify_id_token(tokens.get("id_token"), nonce=flow["nonce"])
        started_at = datetime.fromisoformat(flow["started_at"])
        authenticated_at = reauth.check_fresh(
            claims=claims, identity=identity, started_at=started_at, now=timezone.now()
        )
        return authenticated_at, identity
