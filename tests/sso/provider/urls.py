"""The provider's routes: django-oauth-toolkit under /o/, a login page, and token endpoints
that misbehave on purpose (``/hostile/<mode>/token/``).

A hostile endpoint performs the real code exchange, then hands back an ID token changed the
way an attacker or a broken provider would: signed with another key (``forged``), already
expired (``expired``), or issued to another client (``audience``; re-signed with the real
key, so only the audience check can catch it).
"""

import json
import time

from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from jwcrypto import jwk, jwt
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import TokenView


def _sign(claims: dict, key: jwk.JWK, kid: str) -> str:
    token = jwt.JWT(header={"alg": "RS256", "kid": kid, "typ": "JWT"}, claims=json.dumps(claims))
    token.make_signed_token(key)
    return token.serialize()


@csrf_exempt
def hostile_token(request, mode):
    response = TokenView.as_view()(request)
    if response.status_code != 200:
        return response
    body = json.loads(response.content)
    real_key = jwk.JWK.from_pem(oauth2_settings.OIDC_RSA_PRIVATE_KEY.encode())
    kid = real_key.thumbprint()
    claims = json.loads(jwt.JWT(jwt=body["id_token"], key=real_key).claims)
    now = int(time.time())
    if mode == "forged":
        # Same kid, so the relying party finds "the" key and must see the signature fail.
        body["id_token"] = _sign(claims, jwk.JWK.generate(kty="RSA", size=2048), kid)
    elif mode == "expired":
        claims.update(iat=now - 7200, exp=now - 3600, auth_time=now - 7200)
        body["id_token"] = _sign(claims, real_key, kid)
    elif mode == "audience":
        claims["aud"] = "another-client"
        body["id_token"] = _sign(claims, real_key, kid)
    else:
        return HttpResponse(status=404)
    return HttpResponse(json.dumps(body), content_type="application/json")


urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("hostile/<str:mode>/token/", hostile_token),
]
