"""Create a CI service account and print its first token (shown once)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from registry import services
from registry.choices import TokenScope
from registry.models import Team

DEFAULT_DAYS = 90


def _expires_at(*, days: int | None, expires_at: str | None) -> tuple[datetime, bool]:
    """When the token expires, and whether it is expired on purpose (``--days 0``).

    Every refusal happens here, before anything is created.
    """
    if days is not None and expires_at is not None:
        raise CommandError("Give --days or --expires-at, not both.")
    if expires_at is not None:
        try:
            moment = datetime.fromisoformat(expires_at.strip())
        except ValueError as exc:
            raise CommandError(
                f"--expires-at must be an ISO 8601 datetime with a time zone "
                f"(e.g. 2026-01-31T12:00:00Z), got {expires_at!r}."
            ) from exc
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise CommandError(
                f"--expires-at needs a time zone (e.g. 2026-01-31T12:00:00Z or "
                f"2026-01-31T12:00:00+01:00), got {expires_at!r}."
            )
        if moment <= timezone.now():
            raise CommandError(
                f"--expires-at {expires_at} is in the past; use --days 0 to issue a token "
                "that has already expired."
            )
        return moment, False
    if days is None:
        days = DEFAULT_DAYS
    if days < 0:
        raise CommandError("--days must be 0 or more (0: a token that has already expired).")
    return timezone.now() + timedelta(days=days), days == 0


class Command(BaseCommand):
    help = "Create a service account for CI, limited to teams, and print a token for it."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--team", action="append", required=True, dest="teams")
        parser.add_argument("--scope", action="append", dest="scopes", choices=TokenScope.values)
        expiry = parser.add_mutually_exclusive_group()
        expiry.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"days until the token expires (default {DEFAULT_DAYS}); 0 issues a token "
            "that has already expired, to test how a pipeline handles expiry",
        )
        expiry.add_argument(
            "--expires-at",
            help="when the token expires: an ISO 8601 datetime with a time zone, "
            "e.g. 2026-01-31T12:00:00Z",
        )
        parser.add_argument("--admin", required=True, help="Username of the administrator acting.")

    def handle(self, *args, **options):
        # call_command(**kwargs) skips argparse's mutually exclusive group: _expires_at
        # checks the pair again.
        expires_at, expired_on_purpose = _expires_at(
            days=options["days"], expires_at=options["expires_at"]
        )
        actor = (
            get_user_model().objects.filter(username=options["admin"], is_superuser=True).first()
        )
        if actor is None:
            raise CommandError(f"No administrator named {options['admin']!r}.")
        teams = list(Team.objects.filter(slug__in=options["teams"]))
        missing = set(options["teams"]) - {team.slug for team in teams}
        if missing:
            raise CommandError(f"Unknown teams: {', '.join(sorted(missing))}.")
        try:
            # One transaction: a token that cannot be issued leaves no account behind.
            with transaction.atomic():
                account = services.service_account_create(
                    actor=actor, name=options["name"], teams=teams
                )
                token, raw = services.api_token_issue(
                    actor=actor,
                    service_account=account,
                    label="initial",
                    scopes=options["scopes"] or list(TokenScope.values),
                    expires_at=expires_at,
                    allow_expired=expired_on_purpose,
                )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        expiry = (
            "it has already expired (--days 0)"
            if expired_on_purpose
            else f"it expires {token.expires_at.isoformat(timespec='seconds')}"
        )
        self.stdout.write(
            f"Service account {account.name} created. Token (shown once; {expiry}):\n{raw}"
        )
