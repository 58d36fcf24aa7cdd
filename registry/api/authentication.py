"""Bearer-token authentication for service accounts.

Only the sha256 of a token is stored. The lookup is by hash (an attacker-controlled value
never meets a secret in a variable-time comparison) and the final equality check is
``hmac.compare_digest``. Revoked, expired or inactive → 401 at once: nothing is cached, so
a revocation (or a disabled account, or a team removed) counts from the very next request
in every process.

Every API request pays this, so it is one SQL statement written once per process
(``core.rows``, issue 14): the token, its account, the account's user and (PostgreSQL) the
account's team ids in one round trip.
"""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework import authentication, exceptions

from core import rows
from registry.models import ApiToken, ServiceAccount
from registry.services import TOKEN_PREFIX, hash_token


@dataclass(frozen=True)
class _Lookup:
    sql: str
    token: rows.Columns
    account: rows.Columns
    user: rows.Columns
    with_team_ids: bool


@functools.cache
def _lookup(vendor: str) -> _Lookup:
    """The token lookup for this database vendor, built once from the models' metadata."""
    quote = connection.ops.quote_name
    user_model = get_user_model()
    token = rows.columns(ApiToken, "t")
    account = rows.columns(ServiceAccount, "a", start=token.stop)
    user = rows.columns(user_model, "u", start=account.stop)
    select = [*token.select, *account.select, *user.select]
    through = ServiceAccount.teams.through
    with_team_ids = vendor == "postgresql"
    if with_team_ids:
        # The account's team ids in the same round trip.
        select.append(
            f"ARRAY(SELECT {rows.column(through, 'team', 'm')}"  # noqa: S608
            f" FROM {rows.table(through, 'm')}"
            f" WHERE {rows.column(through, 'serviceaccount', 'm')} = a.{quote('id')})"
        )
    # Identifiers only, from the models' metadata, quoted; the digest is a parameter.
    sql = (
        f"SELECT {', '.join(select)}"  # noqa: S608
        f" FROM {rows.table(ApiToken, 't')}"
        f" JOIN {rows.table(ServiceAccount, 'a')}"
        f" ON a.{quote('id')} = {rows.column(ApiToken, 'service_account', 't')}"
        f" JOIN {rows.table(user_model, 'u')}"
        f" ON u.{quote('id')} = {rows.column(ServiceAccount, 'user', 'a')}"
        f" WHERE {rows.column(ApiToken, 'token_hash', 't')} = %s"
    )
    return _Lookup(sql, token, account, user, with_team_ids=with_team_ids)


def token_with_account(digest: str) -> tuple[ApiToken, set[int]] | None:
    """The token with this hash, its account and user attached, and the account's team ids
    (one statement on PostgreSQL, two elsewhere); None when no token has it."""
    lookup = _lookup(connection.vendor)
    row = rows.fetch_one(lookup.sql, [digest])
    if row is None:
        return None
    token = lookup.token.build(row)
    account = lookup.account.build(row)
    account.user = lookup.user.build(row)
    token.service_account = account
    team_ids = (
        set(row[-1]) if lookup.with_team_ids else set(account.teams.values_list("id", flat=True))
    )
    return token, team_ids


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
        found = token_with_account(digest)
        if found is None or not hmac.compare_digest(found[0].token_hash, digest):
            raise exceptions.AuthenticationFailed("Invalid token.")
        token, team_ids = found
        if not token.is_usable(now=timezone.now()):
            raise exceptions.AuthenticationFailed("The token is revoked or expired.")
        account = token.service_account
        user = account.user
        if not account.is_active or not user.is_active:
            raise exceptions.AuthenticationFailed("The service account is disabled.")
        if token.team_ids:
            # A token limited to some of its account's teams sees only those.
            team_ids &= set(token.team_ids)
        # Cached for every permission check of this request
        # (``core.permissions.service_account_team_ids``).
        user._govboard_team_ids = team_ids
        return user, token

    def authenticate_header(self, request: Any) -> str:
        return f'{self.keyword} realm="govboard"'
