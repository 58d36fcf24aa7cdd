"""Bearer-token authentication for service accounts.

Only the sha256 of a token is stored. The lookup is by hash (an attacker-controlled value
never meets a secret in a variable-time comparison) and the final equality check is
``hmac.compare_digest``. Revoked, expired or inactive → 401 at once: nothing is cached.
"""

from __future__ import annotations

import hmac
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import OuterRef
from django.utils import timezone
from rest_framework import authentication, exceptions

from registry.models import ApiToken, ServiceAccount
from registry.services import TOKEN_PREFIX, hash_token


class ServiceTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Malformed token.") from exc
        if not raw.startswith(f"{TOKEN_PREFIX}_") or len(raw) > 200:
            raise exceptions.AuthenticationFailed("Invalid token.")
        digest = hash_token(raw)
        tokens = ApiToken.objects.select_related("service_account__user").filter(token_hash=digest)
        if connection.vendor == "postgresql":
            # The account's team ids in the same round trip (every API request pays this).
            tokens = tokens.annotate(
                account_team_ids=ArraySubquery(
                    ServiceAccount.teams.through.objects.filter(
                        serviceaccount_id=OuterRef("service_account_id")
                    ).values("team_id")
                )
            )
        token = tokens.first()
        if token is None or not hmac.compare_digest(token.token_hash, digest):
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.is_usable(now=timezone.now()):
            raise exceptions.AuthenticationFailed("The token is revoked or expired.")
        account = token.service_account
        user = account.user
        if not account.is_active or not user.is_active:
            raise exceptions.AuthenticationFailed("The service account is disabled.")
        # One query for the account's teams, cached for every permission check of this
        # request (``core.permissions.service_account_team_ids``).
        prefetched = getattr(token, "account_team_ids", None)
        team_ids = (
            set(prefetched)
            if prefetched is not None
            else set(account.teams.values_list("id", flat=True))
        )
        if token.team_ids:
            # A token limited to some of its account's teams sees only those.
            team_ids &= set(token.team_ids)
        user._govboard_team_ids = team_ids
        return user, token

    def authenticate_header(self, request: Any) -> str:
        return f'{self.keyword} realm="govboard"'
