"""Create a CI service account and print its first token (shown once)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from govboard.errors import DomainError
from registry import services
from registry.choices import TokenScope
from registry.models import Team


class Command(BaseCommand):
    help = "Create a service account for CI, limited to teams, and print a token for it."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--team", action="append", required=True, dest="teams")
        parser.add_argument("--scope", action="append", dest="scopes", choices=TokenScope.values)
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--admin", required=True, help="Username of the administrator acting.")

    def handle(self, *args, **options):
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
            account = services.service_account_create(
                actor=actor, name=options["name"], teams=teams
            )
            _, raw = services.api_token_issue(
                actor=actor,
                service_account=account,
                label="initial",
                scopes=options["scopes"] or list(TokenScope.values),
                expires_at=timezone.now() + timedelta(days=options["days"]),
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Service account {account.name} created. Token (shown once):\n{raw}")
