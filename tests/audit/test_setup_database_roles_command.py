"""``manage.py setup_database_roles`` and ``migrate`` as the owner (ADR 0014)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command, get_commands
from django.db import connection

from tests.audit.test_runtime_role import TEST_RUNTIME_ROLE

pytestmark = pytest.mark.django_db


def setup_output() -> str:
    out = StringIO()
    call_command("setup_database_roles", stdout=out)
    return out.getvalue()


def test_migrate_is_the_command_that_runs_as_the_owner():
    # Given the installed apps, then "migrate" is audit's (Django's, as the owner role)
    assert get_commands()["migrate"] == "audit"


def test_without_two_roles_the_command_says_plainly_it_is_not_tamper_resistant(settings):
    # Given no runtime role configured (embedded SQLite, or one PostgreSQL role)
    settings.GOVBOARD_DATABASE_RUNTIME = {}

    # When the roles are set up, then it says why nothing protects the trail, and does nothing
    output = setup_output()
    assert "This is not tamper-resistant" in output
    assert "Nothing to set up." in output


def test_every_start_logs_plainly_that_one_role_or_sqlite_is_not_tamper_resistant(settings, caplog):
    # Given no runtime role configured, and the start-up warning on (test settings turn it off)
    settings.GOVBOARD_DATABASE_RUNTIME = {}
    settings.GOVBOARD_WARN_NOT_TAMPER_RESISTANT = True

    # When the audit app starts
    with caplog.at_level("WARNING", logger="audit"):
        apps.get_app_config("audit").ready()

    # Then the log says why the trail is not protected
    where = "Embedded SQLite" if connection.vendor == "sqlite" else "DATABASE_OWNER_URL is not set"
    assert f"{where}: the append-only triggers are installed" in caplog.text
    assert "This is not tamper-resistant" in caplog.text


@pytest.mark.skipif(connection.vendor != "postgresql", reason="database roles are PostgreSQL's")
def test_with_a_runtime_role_the_command_grants_it_and_says_what(settings):
    # Given a runtime role configured beside the owner this suite connects as
    database = connection.settings_dict
    settings.GOVBOARD_DATABASE_RUNTIME = settings.GOVBOARD_DATABASE_RUNTIME or {
        "USER": TEST_RUNTIME_ROLE,
        "PASSWORD": "",
        "HOST": database["HOST"],
        "PORT": database["PORT"],
    }

    # When the roles are set up (twice: it is idempotent)
    first, second = setup_output(), setup_output()

    # Then it names the role, the owner and what it was granted, the same both times
    role = settings.GOVBOARD_DATABASE_RUNTIME["USER"]
    assert f"Runtime role {role} (" in second
    assert "append-only tables (SELECT, INSERT)" in second
    assert "1 read-only (django_migrations)" in second
    assert first.split("),", 1)[1] == second.split("),", 1)[1]
