"""Service accounts and their API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import record
from audit.verbs import AuditVerb
from core.errors import Conflict, InvalidInput
from core.permissions import Verb, require
from registry.choices import TokenScope
from registry.models import ApiToken, ServiceAccount, Team
from registry.services.versions import _validation_to_invalid

User = get_user_model()

TOKEN_PREFIX = "gbt"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@transaction.atomic
def service_account_create(
    *, actor: Any, name: str, teams: list[Team], description: str = ""
) -> ServiceAccount:
    """A CI identity: its own inactive-password user, limited to ``teams``."""
    require(actor, Verb.MANAGE_ACCOUNTS, refusal="Only administrators create service accounts.")
    if User.objects.filter(username=f"sa-{name}").exists():
        raise Conflict(f"A user named sa-{name} already exists.")
    user = User(username=f"sa-{name}", is_active=True)
    user.set_unusable_password()
    user.save()
    account = ServiceAccount(name=name, user=user, description=description)
    try:
        account.full_clean(exclude=["user"])
    except ValidationError as exc:
        raise _validation_to_invalid(exc, "The service account is invalid.") from exc
    account.save()
    account.teams.set(teams)
    record(
        actor=actor,
        verb=AuditVerb.SERVICE_ACCOUNT_CREATED,
        target=account,
        data={
            "teams": sorted(team.slug for team in teams),
            "before": None,
            "after": {"name": account.name, "teams": sorted(team.slug for team in teams)},
        },
    )
    return account


def _account_state(account: ServiceAccount) -> dict[str, Any]:
    return {
        "teams": sorted(account.teams.values_list("slug", flat=True)),
        "description": account.description,
        "is_active": account.is_active,
    }


@transaction.atomic
def service_account_update(
    *, actor: Any, account: ServiceAccount, teams: list[Team], description: str, is_active: bool
) -> ServiceAccount:
    """Change which teams a CI identity reaches, its description, or whether it may call
    at all (its tokens stop working while inactive). Its name is its user's name and never
    changes. Audited with before and after; a save that changes nothing records nothing."""
    require(actor, Verb.MANAGE_ACCOUNTS, refusal="Only administrators change service accounts.")
    locked = ServiceAccount.objects.select_for_update().get(pk=account.pk)
    before = _account_state(locked)
    locked.description = description
    locked.is_active = is_active
    locked.save(update_fields=["description", "is_active"])
    locked.teams.set(teams)
    after = _account_state(locked)
    if after != before:
        record(
            actor=actor,
            verb=AuditVerb.SERVICE_ACCOUNT_CHANGED,
            target=locked,
            data={"before": before, "after": after},
        )
    return locked


@transaction.atomic
def api_token_issue(
    *,
    actor: Any,
    service_account: ServiceAccount,
    label: str,
    scopes: list[str],
    expires_at: datetime,
    teams: list[Team] | None = None,
    allow_expired: bool = False,
) -> tuple[ApiToken, str]:
    """Issue a token; returns it with the raw secret, which is never stored or shown again.

    ``allow_expired`` lets an administrator issue a token that has already expired
    (``manage.py create_service_account --days 0``), so operators can test how their
    pipeline reports an expired token without editing the database; the audit event
    records that it was issued expired. Without it a past expiry is refused.
    """
    require(actor, Verb.MANAGE_ACCOUNTS, refusal="Only administrators issue tokens.")
    bad = set(scopes) - set(TokenScope.values)
    if bad or not scopes:
        raise InvalidInput(f"Scopes must be a non-empty subset of {', '.join(TokenScope.values)}.")
    issued_expired = expires_at <= timezone.now()
    if issued_expired and not allow_expired:
        raise InvalidInput("A token must expire in the future.")
    team_ids = sorted({team.pk for team in teams or []})
    if team_ids:
        allowed = set(service_account.teams.values_list("id", flat=True))
        if not set(team_ids) <= allowed:
            raise InvalidInput("A token can only be limited to teams of its service account.")
    prefix = secrets.token_hex(4)
    raw = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        service_account=service_account,
        label=label,
        prefix=prefix,
        token_hash=hash_token(raw),
        scopes=sorted(set(scopes)),
        team_ids=team_ids,
        expires_at=expires_at,
    )
    record(
        actor=actor,
        verb=AuditVerb.TOKEN_ISSUED,
        target=token,
        data={
            "service_account": service_account.name,
            "scopes": token.scopes,
            "team_ids": token.team_ids,
            "expires_at": expires_at.isoformat(),
            "issued_expired": issued_expired,
            "prefix": prefix,
            "before": None,
            "after": {"scopes": token.scopes, "team_ids": token.team_ids, "revoked_at": None},
        },
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, actor: Any, token: ApiToken | int) -> ApiToken:
    """Revoke at once: the next request with this token is a 401."""
    require(actor, Verb.MANAGE_ACCOUNTS, refusal="Only administrators revoke tokens.")
    pk = token.pk if isinstance(token, ApiToken) else token
    locked = ApiToken.objects.select_for_update().get(pk=pk)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        record(
            actor=actor,
            verb=AuditVerb.TOKEN_REVOKED,
            target=locked,
            data={
                "prefix": locked.prefix,
                "before": {"revoked_at": None},
                "after": {"revoked_at": locked.revoked_at.isoformat()},
            },
        )
    return locked
