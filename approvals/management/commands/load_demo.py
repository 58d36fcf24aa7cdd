"""Realistic demo data for `make run`: teams, people for every role, models in every state
(built by ``approvals.demo``).

Demo mode only (GOVBOARD_DEMO=1, never with production settings): it creates accounts with
fresh random passwords, printed once at the end. Everything is written through the
services, so the demo's audit trail and history look exactly like real use.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from approvals.demo.catalog import catalog_create, demo_ci_token_issue
from approvals.demo.people import PEOPLE, people_create
from registry.models import Team


class Command(BaseCommand):
    help = "Load demo teams, users, models and requests (demo mode only) and print the logins."

    def handle(self, *args, **options):
        if not settings.GOVBOARD_DEMO or not settings.DEBUG:
            raise CommandError("Demo data is only loaded in demo mode (GOVBOARD_DEMO=1, DEBUG).")
        passwords = {username: secrets.token_urlsafe(9) for username in PEOPLE}
        with transaction.atomic():
            people = people_create(passwords)
            if not Team.objects.filter(slug="assistants").exists():
                catalog_create(people, passwords)
            token = demo_ci_token_issue(people["admin"])
        self._print(passwords, token)

    def _print(self, passwords: dict[str, str], token: str) -> None:
        self.stdout.write(
            self.style.SUCCESS(f"\ngovboard demo is ready: {settings.GOVBOARD_PUBLIC_URL}/admin/")
        )
        self.stdout.write("Demo logins (fresh passwords every start; demo mode only):")
        for username, (description, _, _) in PEOPLE.items():
            self.stdout.write(f"  {username:<8} {passwords[username]:<14} {description}")
        self.stdout.write(f"CI token for service account ci-assistants (shown once): {token}")
        self.stdout.write(f"API docs: {settings.GOVBOARD_PUBLIC_URL}/api/docs/\n")
