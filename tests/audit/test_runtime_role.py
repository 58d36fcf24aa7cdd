"""AUD-1 / AUD-2: the application's runtime role cannot rewrite the append-only tables nor
lift their triggers, and still does the application's work (ADR 0014). PostgreSQL only.

The suite itself connects as the owner (it creates and flushes the test database); these
tests open connections as the runtime role: DATABASE_URL's role when DATABASE_OWNER_URL is
set (``make test``, CI), else a role of their own, granted by the same code on the test
database.
"""

from __future__ import annotations

import psycopg
import pytest
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from approvals import services
from approvals.lifecycle_trigger import TRIGGER as LIFECYCLE_TRIGGER
from approvals.lifecycle_trigger import guarded_models
from approvals.models import DecisionRecord, SignOff
from audit.database_roles import (
    OWNER_ONLY_TABLES,
    RuntimeRoleUnsafe,
    configured_runtime_role,
    connected_as,
    setup_runtime_role,
)
from audit.immutability import TRIGGER_FUNCTION, append_only_tables, protected_tables
from audit.models import AuditEvent
from registry import services as registry_services
from registry.choices import DatasetUse
from registry.models import ModelVersion
from tests.approvals.factories import ci_user, request_in_review
from tests.registry.factories import (
    PASSWORD,
    RegisteredModelFactory,
    TeamFactory,
    approver,
    complete_metadata,
    link_dataset,
    sha256_of,
)

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="database roles are PostgreSQL's; embedded SQLite is not tamper-resistant (ADR 0014)",
)

#: The runtime role of a run without DATABASE_OWNER_URL (roles belong to the cluster).
TEST_RUNTIME_ROLE = "govboard_runtime_test"
INSUFFICIENT_PRIVILEGE = "42501"
PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


@pytest.fixture(scope="session")
def runtime_credentials(django_db_setup, django_db_blocker) -> dict[str, object]:
    """The runtime role's credentials, after granting it on the test database as the owner."""
    role, password = configured_runtime_role() or (TEST_RUNTIME_ROLE, "")
    with django_db_blocker.unblock():
        setup_runtime_role(role, password)
    database = connection.settings_dict
    return settings.GOVBOARD_DATABASE_RUNTIME or {
        "USER": role,
        "PASSWORD": password,
        "HOST": database["HOST"],
        "PORT": database["PORT"],
    }


@pytest.fixture
def runtime(runtime_credentials):
    """A psycopg connection to the test database as the runtime role (autocommit)."""
    database = connection.settings_dict
    with psycopg.connect(
        host=runtime_credentials["HOST"] or None,
        port=runtime_credentials["PORT"] or None,
        dbname=database["NAME"],
        user=runtime_credentials["USER"],
        password=runtime_credentials["PASSWORD"] or None,
        autocommit=True,
        options="-c lock_timeout=5000",
    ) as runtime_connection:
        yield runtime_connection


def refusal(runtime_connection, statement: str) -> str | None:
    """The SQLSTATE the database refused ``statement`` with; None if it ran."""
    try:
        runtime_connection.execute(statement)
    except psycopg.Error as exc:
        return exc.sqlstate
    return None


def assert_all_refused(runtime_connection, statements: list[str], *, figure: str) -> None:
    """Run each statement as the runtime role; every one must be refused for privilege."""
    codes = [refusal(runtime_connection, statement) for statement in statements]
    pairs = zip(statements, codes, strict=True)
    not_refused = [statement for statement, code in pairs if code != INSUFFICIENT_PRIVILEGE]
    print(f"\n{figure}: {len(statements) - len(not_refused)} of {len(statements)} refused")
    assert statements and not not_refused


def append_only_models():
    tables = set(append_only_tables())
    return [model for model in apps.get_models() if model._meta.db_table in tables]


def row_counts(runtime_connection, tables) -> dict[str, int]:
    return {
        table: runtime_connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        for table in tables
    }


def privileges_of(role: str) -> dict[str, set[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        )
        tables = [name for (name,) in cursor.fetchall()]
        held = {}
        for table in tables:
            cursor.execute(
                "SELECT " + ", ".join(["has_table_privilege(%s, %s, %s)"] * len(PRIVILEGES)),
                [value for privilege in PRIVILEGES for value in (role, f'"{table}"', privilege)],
            )
            flags = cursor.fetchone()
            held[table] = {p for p, flag in zip(PRIVILEGES, flags, strict=True) if flag}
    return held


@pytest.mark.django_db
def test_the_runtime_role_holds_exactly_its_grants_and_applying_them_again_changes_nothing(
    runtime_credentials,
):
    # Given the runtime role after setup
    role = str(runtime_credentials["USER"])
    before = privileges_of(role)

    # When the grants are applied once more
    grants = setup_runtime_role(role)

    # Then append-only tables are SELECT + INSERT, the migration record SELECT, the rest
    # SELECT/INSERT/UPDATE/DELETE; never TRUNCATE, REFERENCES or TRIGGER; and nothing moved
    protected = set(append_only_tables())
    for table, held in before.items():
        if table in OWNER_ONLY_TABLES:
            assert held == {"SELECT"}, table
        elif table in protected:
            assert held == {"SELECT", "INSERT"}, table
        else:
            assert held == {"SELECT", "INSERT", "UPDATE", "DELETE"}, table
    assert privileges_of(role) == before
    assert set(grants.append_only) == protected & set(before)
    print(
        f"\nAUD-1: runtime role {role}: {len(grants.append_only)} append-only tables, "
        f"{len(grants.writable)} writable, {len(grants.read_only)} read-only"
    )


@pytest.mark.django_db
def test_aud1_the_runtime_role_cannot_update_delete_or_truncate_any_append_only_table(runtime):
    # Given every append-only table, as the runtime role sees it
    models = append_only_models()
    tables = [model._meta.db_table for model in models]
    before = row_counts(runtime, tables)

    # When the runtime role updates, deletes and truncates each through raw SQL
    statements = []
    for model in models:
        table, key = model._meta.db_table, model._meta.pk.column
        statements.append(f'UPDATE "{table}" SET "{key}" = "{key}"')
        statements.append(f'DELETE FROM "{table}"')
        statements.append(f'TRUNCATE "{table}"')

    # Then every one is refused for want of privilege, and nothing changed
    assert len(statements) == 3 * len(tables)
    assert_all_refused(runtime, statements, figure=f"AUD-1: rewrites of {len(tables)} tables")
    assert row_counts(runtime, tables) == before
    assert "audit_auditevent" in tables and "approvals_decisionrecord" in tables


@pytest.mark.django_db
def test_aud2_the_runtime_role_cannot_lift_or_replace_any_trigger(runtime):
    # Given the append-only tables and the lifecycle tables with their triggers
    tables = [model._meta.db_table for model in append_only_models()]
    lifecycle_tables = [model._meta.db_table for model in guarded_models()]

    # When the runtime role tries every way to disable, drop or bypass them
    statements = ["SET session_replication_role = replica"]
    statements.append("ALTER ROLE CURRENT_USER SET session_replication_role = replica")
    statements.append(f"SET ROLE {connection.settings_dict['USER']}")
    statements.append(
        f"CREATE OR REPLACE FUNCTION {TRIGGER_FUNCTION}() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
    )
    for table in tables:
        statements += [
            f'ALTER TABLE "{table}" DISABLE TRIGGER govboard_append_only_row',
            f'ALTER TABLE "{table}" DISABLE TRIGGER ALL',
            f'DROP TRIGGER govboard_append_only_row ON "{table}"',
            f'DROP TRIGGER govboard_append_only_truncate ON "{table}"',
        ]
    for table in lifecycle_tables:
        statements += [
            f'ALTER TABLE "{table}" DISABLE TRIGGER {LIFECYCLE_TRIGGER}',
            f'DROP TRIGGER {LIFECYCLE_TRIGGER} ON "{table}"',
            f'ALTER TABLE "{table}" OWNER TO CURRENT_USER',
        ]

    # Then every one is refused, and every trigger is still there and enabled
    assert_all_refused(runtime, statements, figure="AUD-2: trigger-lifting statements")
    assert runtime.execute("SHOW session_replication_role").fetchone()[0] == "origin"
    assert set(tables) <= protected_tables()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname = %s AND tgenabled <> 'D'",
            [LIFECYCLE_TRIGGER],
        )
        assert cursor.fetchone()[0] == len(lifecycle_tables)


@pytest.mark.django_db
def test_a_role_that_could_lift_the_triggers_is_refused_as_the_runtime_role():
    # Given the owner itself, and a role that may create roles
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
        cursor.execute("CREATE ROLE govboard_unsafe_test LOGIN CREATEROLE")

    # When either is set up as the runtime role, then it is refused, naming why
    with pytest.raises(RuntimeRoleUnsafe, match="is the owner role itself"):
        setup_runtime_role(owner)
    with pytest.raises(RuntimeRoleUnsafe, match="has CREATEROLE"):
        setup_runtime_role("govboard_unsafe_test")

    # And it was granted nothing
    assert privileges_of("govboard_unsafe_test")["audit_auditevent"] == set()


@pytest.mark.django_db(transaction=True)
def test_the_application_works_as_the_runtime_role(runtime_credentials, seeded_policies):
    team = TeamFactory(slug="assistants")
    with connected_as(runtime_credentials):
        # Given a version registered by CI through the service, checked and in review, all
        # as the runtime role
        version, created = registry_services.version_register(
            actor=ci_user(team),
            registered_model=RegisteredModelFactory(team=team),
            version="1.0.0",
            checksum=sha256_of("artifact"),
            storage_uri="s3://models/assistant/1.0.0/",
            **complete_metadata(),
        )
        assert created and version.state == "draft"
        for use in (DatasetUse.TRAIN, DatasetUse.EVAL):
            link_dataset(version, use)
        request = request_in_review(version)

        # When the board signs it through the service
        for role in ("platform", "product", "security"):
            services.signoff_record(
                actor=approver(team, role), request=request, role=role, password=PASSWORD
            )

        # Then the request and version are approved, with their record and audit events
        request.refresh_from_db()
        assert request.state == "approved"
        assert ModelVersion.objects.get(pk=request.version_id).state == "approved"
        assert DecisionRecord.objects.filter(request=request).count() == 1
        events = AuditEvent.objects.count()
        assert events > 0

        # And the ORM cannot rewrite what it wrote, nor skip the lifecycle
        for rewrite in (
            lambda: AuditEvent.objects.update(verb="rewritten"),
            lambda: SignOff.objects.filter(request=request).delete(),
            lambda: ModelVersion.objects.filter(pk=request.version_id).update(state="draft"),
        ):
            with pytest.raises(DatabaseError), transaction.atomic():
                rewrite()
        assert AuditEvent.objects.count() == events
        assert SignOff.objects.filter(request=request).count() == 3
        assert ModelVersion.objects.get(pk=request.version_id).state == "approved"
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == runtime_credentials["USER"]
