"""Issue 14: append-only rows (audit events, history rows, idempotency keys) are written by
an INSERT compiled once per model (``core.inserts``). The row must come back exactly as
``Model.save`` would leave it, the database's own defaults included, and nothing that
listens to saves may be skipped."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Now
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from audit.services import record
from audit.verbs import AuditVerb
from core.inserts import insert
from registry.models import IdempotencyKey, ModelVersion
from tests.registry.factories import ModelVersionFactory, UserFactory

pytestmark = pytest.mark.django_db


def a_key(user, key: str, digit: str, status: int, body) -> IdempotencyKey:
    return IdempotencyKey(
        user=user,
        key=key,
        endpoint="e",
        fingerprint=digit * 64,
        response_status=status,
        response_body=body,
    )


def test_an_audit_event_reads_back_as_written_with_the_databases_id_and_time():
    # Given a version and its registering user
    version = ModelVersionFactory()

    # When an event is recorded for it
    with transaction.atomic():
        event = record(
            actor=version.registered_by,
            verb=AuditVerb.VERSION_REGISTERED,
            target=version,
            team_id=version.registered_model.team_id,
            data={"after": {"state": "draft"}, "n": [1, 2]},
        )

    # Then the id and the database's occurred_at are on the object, equal to the stored row
    stored = AuditEvent.objects.get(pk=event.pk)
    assert event.occurred_at is not None
    assert event.occurred_at == stored.occurred_at
    assert stored.data == {"after": {"state": "draft"}, "n": [1, 2]}
    assert (stored.verb, stored.object_id, stored.team_id, stored.actor_id) == (
        AuditVerb.VERSION_REGISTERED,
        str(version.pk),
        version.registered_model.team_id,
        version.registered_by.pk,
    )
    assert event._state.adding is False


def test_a_second_insert_of_the_same_model_is_one_statement():
    # Given one key written already (the statement is compiled)
    user = UserFactory()
    insert(a_key(user, "a", "f", 201, {"id": 1}))

    # When another is written
    with CaptureQueriesContext(connection) as writes:
        key = insert(a_key(user, "b", "0", 200, [1, "x"]))

    # Then it took one INSERT and reads back the same
    assert [q["sql"].split()[0] for q in writes.captured_queries] == ["INSERT"]
    stored = IdempotencyKey.objects.get(pk=key.pk)
    assert (stored.key, stored.response_status, stored.response_body) == ("b", 200, [1, "x"])
    assert stored.created_at == key.created_at


def test_a_duplicate_key_is_the_databases_integrity_error_and_writes_nothing():
    # Given a stored key
    user = UserFactory()
    insert(a_key(user, "k", "f", 201, {}))

    # When the same (user, key) is inserted again
    with pytest.raises(IntegrityError), transaction.atomic():
        insert(a_key(user, "k", "0", 201, {}))

    # Then there is still one
    assert IdempotencyKey.objects.filter(user=user).count() == 1


def test_a_value_given_as_an_expression_is_saved_the_ordinary_way():
    # Given an event whose time is an expression, not a value
    version = ModelVersionFactory()
    event = AuditEvent(
        actor=None,
        actor_label="system",
        verb=AuditVerb.VERSION_REGISTERED,
        object_type="registry.modelversion",
        object_id=str(version.pk),
        occurred_at=Now(),
        data={},
    )

    # When it is inserted
    insert(event)

    # Then it is stored (through Model.save) with the database's time
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_a_history_row_is_written_with_every_field_of_the_version():
    # When a version is created (its history row is inserted by the cached statement)
    version = ModelVersionFactory(license="mit", allowed_use_cases=["support"])

    # Then its history row holds its fields and the history bookkeeping
    row = ModelVersion.history.filter(id=version.pk).get()
    assert (row.history_type, row.checksum, row.license, row.allowed_use_cases) == (
        "+",
        version.checksum,
        "mit",
        ["support"],
    )
    assert row.history_id is not None and row.history_date is not None


@pytest.mark.parametrize("signal", [pre_save, post_save], ids=["pre_save", "post_save"])
def test_nothing_listens_to_saves_of_the_rows_written_without_signals(signal):
    # Given the models core.inserts writes (audit events, keys, every history model)
    from django.apps import apps

    from core.historical_records import AppendOnlyHistoricalRow

    models = [AuditEvent, IdempotencyKey] + [
        m for m in apps.get_models() if issubclass(m, AppendOnlyHistoricalRow)
    ]
    assert len(models) > 10

    # Then no receiver is connected for any of them: skipping the signals skips nothing
    assert [m.__name__ for m in models if signal.has_listeners(m)] == []
