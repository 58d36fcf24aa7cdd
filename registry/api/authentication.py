"""Bearer-token authentication for service accounts.

Only the sha256 of a token is stored. The lookup is by hash (an attacker-controlled value
never meets a secret in a variable-time comparison) and the final equality check is
``hmac.compare_digest``. Revoked, expired or inactive → 401 at once: nothing is cached, so
a revocation (or a disabled account, or a team removed) counts from the very next request
in every process.

Every API request pays this, so it is one SQL statement written once per process (issue 14):
the token, its account, the account's user and (PostgreSQL) the account's team ids in one
round trip, the rows built with ``Model.from_db`` and the fields' own database converters,
without compiling an ORM query per request.
"""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Model
from django.utils import timezone
from rest_framework import authentication, exceptions

from registry.models import ApiToken, ServiceAccount
from registry.services import TOKEN_PREFIX, hash_token


@dataclass(frozen=True)
class _Part:
    """One model's columns in the lookup's row: where they are and how they convert."""

    model: type[Model]
    names: tuple[str, ...]
    start: int
    converters: tuple[tuple[int, tuple, Any], ...]  # (offset, converters, expression)

    def build(self, row: tuple, db_connection: Any) -> Model:
        values = list(row[self.start : self.start + len(self.names)])
        for offset, converters, expression in self.converters:
            for convert in converters:
                values[offset] = convert(values[offset], expression, db_connection)
        return self.model.from_db(db_connection.alias, self.names, values)


@dataclass(frozen=True)
class _Lookup:
    sql: str
    token: _Part
    account: _Part
    user: _Part
    with_team_ids: bool


@functools.cache
def _lookup(vendor: str) -> _Lookup:
    """The token lookup for this database vendor, built once from the models' metadata."""
    quote = connection.ops.quote_name
    parts, columns, start = [], [], 0
    for model, alias in ((ApiToken, "t"), (ServiceAccount, "a"), (get_user_model(), "u")):
        fields = model._meta.concrete_fields
        converters = []
        for offset, field in enumerate(fields):
            expression = field.get_col(alias)
            found = tuple(
                connection.ops.get_db_converters(expression) + field.get_db_converters(connection)
            )
            if found:
                converters.append((offset, found, expression))
            columns.append(f"{alias}.{quote(field.column)}")
        parts.append(_Part(model, tuple(f.attname for f in fields), start, tuple(converters)))
        start += len(fields)
    through = ServiceAccount.teams.through._meta
    with_team_ids = vendor == "postgresql"
    if with_team_ids:
        # The account's team ids in the same round trip.
        columns.append(
            f"ARRAY(SELECT m.{quote(through.get_field('team').column)}"  # noqa: S608
            f" FROM {quote(through.db_table)} m"
            f" WHERE m.{quote(through.get_field('serviceaccount').column)} = a.{quote('id')})"
        )
    # Identifiers only, from the models' metadata, quoted; the digest is a parameter.
    sql = (
        f"SELECT {', '.join(columns)}"  # noqa: S608
        f" FROM {quote(ApiToken._meta.db_table)} t"
        f" JOIN {quote(ServiceAccount._meta.db_table)} a"
        f" ON a.{quote('id')} = t.{quote(ApiToken._meta.get_field('service_account').column)}"
        f" JOIN {quote(get_user_model()._meta.db_table)} u"
        f" ON u.{quote('id')} = a.{quote(ServiceAccount._meta.get_field('user').column)}"
        f" WHERE t.{quote(ApiToken._meta.get_field('token_hash').column)} = %s"
    )
    return _Lookup(sql, *parts, with_team_ids=with_team_ids)


def token_with_account(digest: str) -> tuple[ApiToken, set[int]] | None:
    """The token with this hash, its account and user attached, and the account's team ids
    (one statement on PostgreSQL, two elsewhere); None when no token has it."""
    lookup = _lookup(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(lookup.sql, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    token = lookup.token.build(row, connection)
    account = lookup.account.build(row, connection)
    account.user = lookup.user.build(row, connection)
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
