"""Issue 14: a registration inserts its version with no savepoint
(``core.inserts.insert_unless_present``, ``INSERT … ON CONFLICT (model, version core) DO
NOTHING``) and writes its history row explicitly (``core.historical_records.record_creation``).
A twin of the unique constraint writes nothing and says so; any other failure still fails;
the history row is the one simple-history would have written after ``Model.save``."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext

from core.historical_records import record_creation
from core.inserts import insert_unless_present
from registry.models import ModelVersion
from tests.registry.factories import ModelVersionFactory, RegisteredModelFactory

pytestmark = pytest.mark.django_db

UNIQUE = ("registered_model", "version_core")


def a_version(model, version: str = "1.0.0", **fields) -> ModelVersion:
    return ModelVersionFactory.build(registered_model=model, version=version, **fields)


def test_a_new_version_is_inserted_in_one_statement_without_a_savepoint():
    # Given a model and a version of it not yet stored
    model = RegisteredModelFactory()
    candidate = a_version(model)

    # When it is inserted unless present
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        inserted = insert_unless_present(candidate, unique=UNIQUE)

    # Then it is stored, with its id and creation time read back, by one statement
    assert inserted is True
    stored = ModelVersion.objects.get(pk=candidate.pk)
    assert (stored.version, stored.checksum, stored.created_at) == (
        "1.0.0",
        candidate.checksum,
        candidate.created_at,
    )
    assert candidate._state.adding is False
    statements = [q["sql"] for q in queries.captured_queries]
    assert len([s for s in statements if s.startswith("INSERT")]) == 1
    assert not [s for s in statements if "SAVEPOINT" in s.split(" ", 1)[0]]


def test_a_twin_of_the_same_version_core_writes_nothing_and_leaves_the_transaction_usable():
    # Given a stored version 1.0.0
    model = RegisteredModelFactory()
    first = a_version(model)
    insert_unless_present(first, unique=UNIQUE)

    # When 1.0.0+build.7 (the same version core, other bytes) is inserted unless present
    with transaction.atomic():
        twin = a_version(model, "1.0.0+build.7", checksum="b" * 64)
        twin.version_core = "1.0.0"
        inserted = insert_unless_present(twin, unique=UNIQUE)
        # ... the same transaction can still read
        assert ModelVersion.objects.filter(registered_model=model).count() == 1

    # Then nothing was written and the twin has no id
    assert inserted is False
    assert twin.pk is None
    assert list(ModelVersion.objects.values_list("pk", "checksum")) == [(first.pk, first.checksum)]


def test_another_constraint_failing_is_an_error_not_a_twin():
    # Given a version whose state breaks the state check constraint (not the unique one)
    model = RegisteredModelFactory()
    broken = a_version(model)
    broken.__dict__["state"] = "bogus"

    # When it is inserted unless present, it fails, and nothing is stored
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_unless_present(broken, unique=UNIQUE)
    assert not ModelVersion.objects.exists()


def test_where_no_cached_statement_can_be_written_a_savepoint_answers_the_same():
    # Given rows the cached statement does not write (their primary key is already set)
    model = RegisteredModelFactory()
    first = a_version(model, id=900_001)
    twin = a_version(model, id=900_002, checksum="c" * 64)

    # When a version and then its twin are inserted unless present
    with transaction.atomic():
        answers = (
            insert_unless_present(first, unique=UNIQUE),
            insert_unless_present(twin, unique=UNIQUE),
        )

    # Then the first is stored, the twin is not, and the answers say so
    assert answers == (True, False)
    assert list(ModelVersion.objects.values_list("pk", flat=True)) == [first.pk]


def test_the_creation_history_row_is_the_one_a_save_writes_with_the_request_user():
    # Given a version inserted without Model.save
    model = RegisteredModelFactory()
    candidate = a_version(model, license="mit", allowed_use_cases=["support"])
    candidate._history_user = model.owner
    with transaction.atomic():
        insert_unless_present(candidate, unique=UNIQUE)
        record_creation(candidate)

    # And one saved the usual way, for comparison
    saved = ModelVersionFactory(registered_model=model, version="2.0.0")

    # Then each has exactly one "+" history row holding its fields and its user
    (row,) = ModelVersion.history.filter(id=candidate.pk)
    (saved_row,) = ModelVersion.history.filter(id=saved.pk)
    assert (row.history_type, row.license, row.allowed_use_cases, row.history_user) == (
        "+",
        "mit",
        ["support"],
        model.owner,
    )
    assert row.checksum == candidate.checksum and row.state == "draft"
    assert saved_row.history_type == "+"
    tracked = [f.attname for f in ModelVersion._meta.concrete_fields if f.attname != "id"]
    assert {name: getattr(row, name) for name in tracked} == {
        name: getattr(candidate, name) for name in tracked
    }


@pytest.mark.parametrize("signal", [pre_save, post_save], ids=["pre_save", "post_save"])
def test_only_simple_history_listens_to_version_saves_so_the_explicit_row_skips_nothing(signal):
    # Registration inserts versions without Model.save and writes the history row itself:
    # a receiver of its own would be skipped silently. Only simple-history's may listen.
    receivers = signal._live_receivers(ModelVersion)
    receivers = receivers[0] if isinstance(receivers, tuple) else receivers  # sync, async
    owners = {type(getattr(receiver, "__self__", receiver)).__module__ for receiver in receivers}
    assert owners <= {"core.historical_records"}, owners
    if signal is post_save:
        assert len(receivers) == 1
