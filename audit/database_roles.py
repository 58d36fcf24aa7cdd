"""The runtime role and its grants on PostgreSQL (ADR 0014).

The application connects as a runtime role that owns nothing: ``DROP TRIGGER`` and
``ALTER TABLE … DISABLE TRIGGER`` need ownership, ``SET session_replication_role`` needs a
superuser, so the append-only triggers (ADR 0004) and the lifecycle triggers hold against
it. Its privileges are (re)applied exactly, as the owner, after every ``migrate``:

- append-only tables (``audit.immutability.append_only_tables()``: the audit log, every
  history table, sign-offs, check results, evidence, decision records, the transparency
  log): SELECT and INSERT only — no UPDATE, DELETE, TRUNCATE, REFERENCES or TRIGGER;
- ``django_migrations``: SELECT (the migration bookkeeping is the owner's);
- every other table: SELECT, INSERT, UPDATE, DELETE; every sequence: USAGE and SELECT;
- tables a later migration creates get SELECT and INSERT by default (``ALTER DEFAULT
  PRIVILEGES``) until the next run sorts them, so a new table is never writable by accident.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, transaction

from audit.immutability import append_only_tables

#: Read by the runtime role, written only by ``migrate`` as the owner.
OWNER_ONLY_TABLES = ("django_migrations",)
WRITABLE = "SELECT, INSERT, UPDATE, DELETE"
APPEND_ONLY = "SELECT, INSERT"


NOT_TAMPER_RESISTANT = (
    "{where}: the append-only triggers are installed, but {who} can remove them and rewrite "
    "the audit trail. This is not tamper-resistant; production uses PostgreSQL with "
    "DATABASE_URL (the runtime role) and DATABASE_OWNER_URL (the owner role), docs/adr/0014."
)


def tamper_resistance_gap(using: str = "default") -> str | None:
    """Why this configuration does not stop the application rewriting the audit trail."""
    if connections[using].vendor != "postgresql":
        return NOT_TAMPER_RESISTANT.format(
            where="Embedded SQLite", who="anyone who can write the database file"
        )
    if configured_runtime_role() is None:
        return NOT_TAMPER_RESISTANT.format(
            where="DATABASE_OWNER_URL is not set",
            who="the application's own role (it owns the tables)",
        )
    return None


class RuntimeRoleUnsafe(RuntimeError):
    """The runtime role could undo the database's refusals (superuser, owner, member…)."""


@dataclass
class Grants:
    role: str
    owner: str
    created: bool = False
    append_only: list[str] = field(default_factory=list)
    writable: list[str] = field(default_factory=list)
    read_only: list[str] = field(default_factory=list)


@contextmanager
def connected_as(credentials: dict[str, object], using: str = "default") -> Iterator[None]:
    """Run the block on ``using`` with other credentials (same database), then restore.

    Management commands only (``migrate``, ``setup_database_roles``) and tests: the open
    connection is closed on the way in and out so the next query reconnects.
    """
    connection = connections[using]
    if not credentials or credentials.get("USER") == connection.settings_dict.get("USER"):
        yield
        return
    saved = {key: connection.settings_dict.get(key) for key in credentials}
    connection.close()
    connection.settings_dict.update(credentials)
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


def connected_as_owner(using: str = "default") -> AbstractContextManager[None]:
    """``connected_as`` the owner of DATABASE_OWNER_URL (a no-op when it is unset)."""
    return connected_as(settings.GOVBOARD_DATABASE_OWNER, using)


def configured_runtime_role() -> tuple[str, str] | None:
    """(role, password) of DATABASE_URL when the two roles are configured, else None."""
    runtime = settings.GOVBOARD_DATABASE_RUNTIME
    if not runtime or not runtime.get("USER"):
        return None
    return str(runtime["USER"]), str(runtime.get("PASSWORD") or "")


def _role_exists(cursor, role: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    return cursor.fetchone() is not None


def ensure_runtime_role(role: str, password: str = "", *, using: str = "default") -> bool:
    """Create the login role if it is missing (needs CREATEROLE); True when created."""
    connection = connections[using]
    quoted = connection.ops.quote_name(role)
    with connection.cursor() as cursor:
        if _role_exists(cursor, role):
            return False
        try:
            with transaction.atomic(using=using):
                cursor.execute(
                    f"CREATE ROLE {quoted} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                    "NOREPLICATION NOBYPASSRLS" + (" PASSWORD %s" if password else ""),
                    [password] if password else None,
                )
        except (DatabaseError, IntegrityError) as exc:
            # Another process created it meanwhile (roles belong to the whole cluster).
            if _role_exists(cursor, role):
                return False
            raise RuntimeRoleUnsafe(
                f"Cannot create the runtime role {role!r} ({exc}). Create it as a login role "
                "without SUPERUSER, CREATEROLE or CREATEDB, then run setup_database_roles again."
            ) from exc
    return True


def runtime_role_problems(role: str, *, using: str = "default") -> list[str]:
    """Why ``role`` could lift the refusals; empty when it cannot."""
    connection = connections[using]
    problems = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
        if role == owner:
            return [f"the runtime role {role!r} is the owner role itself"]
        cursor.execute(
            "SELECT rolsuper, rolcreaterole, rolreplication, rolbypassrls, "
            "pg_has_role(rolname, %s, 'MEMBER') FROM pg_roles WHERE rolname = %s",
            [owner, role],
        )
        row = cursor.fetchone()
        if row is None:
            return [f"the runtime role {role!r} does not exist"]
        for flag, what in zip(
            row,
            ("is a superuser", "has CREATEROLE", "has REPLICATION", "has BYPASSRLS"),
            strict=False,
        ):
            if flag:
                problems.append(f"{role!r} {what}")
        if row[4]:
            problems.append(f"{role!r} is a member of the owner role {owner!r}")
        if connection.pg_version >= 150000:  # GRANT SET ON PARAMETER came with 15
            cursor.execute(
                "SELECT has_parameter_privilege(%s, 'session_replication_role', 'SET')", [role]
            )
            if cursor.fetchone()[0]:
                problems.append(f"{role!r} may SET session_replication_role")
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
            "WHERE r.rolname = %s AND c.relnamespace = current_schema()::regnamespace "
            "ORDER BY 1",
            [role],
        )
        owned = [name for (name,) in cursor.fetchall()]
        if owned:
            problems.append(f"{role!r} owns {', '.join(owned)}")
        cursor.execute("SELECT has_schema_privilege(%s, current_schema(), 'CREATE')", [role])
        if cursor.fetchone()[0]:
            problems.append(f"{role!r} may create tables in the schema")
    return problems


def apply_runtime_grants(role: str, *, using: str = "default") -> Grants:
    """Grant ``role`` exactly its privileges on the current schema, in one transaction."""
    connection = connections[using]
    quote = connection.ops.quote_name
    grantee = quote(role)
    protected = set(append_only_tables())
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_schema()")
        owner, schema_name = cursor.fetchone()
        schema = quote(schema_name)
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        )
        tables = [name for (name,) in cursor.fetchall()]
        grants = Grants(role=role, owner=owner)
        for table in tables:
            if table in OWNER_ONLY_TABLES:
                grants.read_only.append(table)
            elif table in protected:
                grants.append_only.append(table)
            else:
                grants.writable.append(table)
        statements = [
            f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {grantee}",
            f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {grantee}",
            f"REVOKE CREATE ON SCHEMA {schema} FROM {grantee}",
            f"GRANT USAGE ON SCHEMA {schema} TO {grantee}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {grantee}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote(owner)} IN SCHEMA {schema} "
            f"GRANT {APPEND_ONLY} ON TABLES TO {grantee}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote(owner)} IN SCHEMA {schema} "
            f"GRANT USAGE, SELECT ON SEQUENCES TO {grantee}",
        ]
        for privileges, group in (
            (WRITABLE, grants.writable),
            (APPEND_ONLY, grants.append_only),
            ("SELECT", grants.read_only),
        ):
            if group:
                names = ", ".join(f"{schema}.{quote(table)}" for table in group)
                statements.append(f"GRANT {privileges} ON TABLE {names} TO {grantee}")
        for statement in statements:
            cursor.execute(statement)
    return grants


def setup_runtime_role(role: str, password: str = "", *, using: str = "default") -> Grants:
    """As the owner: create ``role`` if missing, refuse an unsafe one, grant it exactly."""
    created = ensure_runtime_role(role, password, using=using)
    problems = runtime_role_problems(role, using=using)
    if problems:
        raise RuntimeRoleUnsafe(
            "The runtime role could lift the append-only and lifecycle triggers: "
            + "; ".join(problems)
            + ". Give DATABASE_URL a role that owns nothing (docs/adr/0014)."
        )
    grants = apply_runtime_grants(role, using=using)
    grants.created = created
    return grants
