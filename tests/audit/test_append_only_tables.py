"""The database itself refuses to rewrite the past: UPDATE, DELETE (and on PostgreSQL
TRUNCATE) on the audit log, every history table and the sign-offs fail, whoever asks."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction

from approvals import services
from approvals.models import CheckResult, SignOff
from audit.immutability import append_only_tables, protected_tables
from audit.models import AuditEvent
from audit.services import record
from audit.verbs import AuditVerb
from registry.models import ModelVersion
from tests.approvals.factories import request_in_review
from tests.registry.factories import PASSWORD, approver

pytestmark = pytest.mark.django_db

REFUSED = "append-only"


@pytest.fixture
def signed():
    """A request in review with one platform sign-off: rows in every protected table."""
    request = request_in_review()
    team = request.version.registered_model.team
    services.signoff_record(
        actor=approver(team, "platform"), request=request, role="platform", password=PASSWORD
    )
    return request


def row_count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
        return cursor.fetchone()[0]


def raw(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


TABLE_CASES = {
    "audit_auditevent": "verb = 'rewritten'",
    "registry_historicalmodelversion": "checksum = 'rewritten'",
    "approvals_signoff": "role = 'security'",
    "approvals_checkresult": "passed = NOT passed",
}


@pytest.mark.parametrize("table", list(TABLE_CASES))
def test_a_raw_update_of_an_append_only_table_is_refused(signed, table):
    # Given rows in the table
    rows = row_count(table)
    assert rows > 0
    snapshot = _table_snapshot(table)

    # When raw SQL tries to rewrite them
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        raw(f'UPDATE "{table}" SET {TABLE_CASES[table]}')

    # Then every row is as it was
    assert _table_snapshot(table) == snapshot


@pytest.mark.parametrize("table", list(TABLE_CASES))
def test_a_raw_delete_from_an_append_only_table_is_refused(signed, table):
    # Given rows in the table
    rows = row_count(table)
    assert rows > 0

    # When raw SQL tries to delete them
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        raw(f'DELETE FROM "{table}"')

    # Then no row is gone
    assert row_count(table) == rows


@pytest.mark.parametrize("table", list(TABLE_CASES))
def test_a_truncate_of_an_append_only_table_is_refused_on_postgresql(signed, table):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (its DELETE is refused above)")
    # Given rows in the table, committed as far as deferred constraints go (PostgreSQL
    # refuses TRUNCATE with pending foreign-key trigger events for another reason)
    rows = row_count(table)
    raw("SET CONSTRAINTS ALL IMMEDIATE")

    # When someone truncates it (CASCADE, so foreign keys from other tables do not refuse
    # it for another reason: the trigger itself must)
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        raw(f'TRUNCATE "{table}" CASCADE')

    # Then no row is gone
    assert row_count(table) == rows


def _orm_cases():
    history = ModelVersion.history.model
    return [
        ("audit-event", lambda: AuditEvent.objects.all(), {"verb": "rewritten"}),
        ("history", lambda: history.objects.all(), {"checksum": "0" * 64}),
        ("signoff", lambda: SignOff.objects.all(), {"role": "security"}),
        ("check-result", lambda: CheckResult.objects.all(), {"passed": False}),
    ]


@pytest.mark.parametrize(("name", "queryset", "changes"), _orm_cases(), ids=lambda c: c)
def test_an_orm_update_of_an_append_only_model_is_refused(signed, name, queryset, changes):
    # Given rows of the model
    before = list(queryset().values())
    assert before

    # When the ORM bulk-updates them
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        queryset().update(**changes)

    # Then they are unchanged
    assert list(queryset().values()) == before


@pytest.mark.parametrize(("name", "queryset", "changes"), _orm_cases(), ids=lambda c: c)
def test_an_orm_delete_of_an_append_only_model_is_refused(signed, name, queryset, changes):
    # Given rows of the model
    count = queryset().count()
    assert count > 0

    # When the ORM deletes them
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        queryset().delete()

    # Then none is gone
    assert queryset().count() == count


def test_saving_a_changed_audit_event_is_refused(signed):
    # Given an audit event loaded as an object
    event = AuditEvent.objects.order_by("id").first()
    verb = event.verb

    # When it is changed and saved (as the admin or a shell would)
    event.verb = "rewritten"
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        event.save()

    # Then the stored event is unchanged
    assert AuditEvent.objects.get(pk=event.pk).verb == verb


def test_deleting_a_sign_off_object_is_refused(signed):
    # Given a sign-off
    signoff = SignOff.objects.get()

    # When it is deleted through the model
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        signoff.delete()

    # Then it still exists
    assert SignOff.objects.filter(pk=signoff.pk).exists()


def test_appending_stays_possible(signed):
    # Given the protected tables / When a new event is appended through the audit API
    count = AuditEvent.objects.count()
    with transaction.atomic():
        record(actor=None, verb=AuditVerb.PROMOTION_SIGNED, target=signed)

    # Then it is stored
    assert AuditEvent.objects.count() == count + 1


def test_every_append_only_table_carries_the_refusal_trigger():
    # Given the tables the code declares append-only (audit, history, sign-offs, checks)
    declared = set(append_only_tables())

    # When the database is asked which tables carry the trigger
    protected = protected_tables()

    # Then they are exactly the same set
    assert protected == declared


def test_every_history_table_and_the_governance_tables_are_declared_append_only():
    # Given every django-simple-history model installed
    history_tables = {
        model._meta.db_table
        for model in apps.get_models()
        if model._meta.model_name.startswith("historical") and hasattr(model, "history_id")
    }

    # When the append-only set is derived
    declared = set(append_only_tables())

    # Then it covers every history table, the audit log, sign-offs and check results
    assert history_tables
    assert "registry_historicalmodelversion" in history_tables
    assert history_tables <= declared
    assert {"audit_auditevent", "approvals_signoff", "approvals_checkresult"} <= declared
    assert "registry_modelversion" not in declared


def _table_snapshot(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT * FROM "{table}" ORDER BY 1')
        return cursor.fetchall()
