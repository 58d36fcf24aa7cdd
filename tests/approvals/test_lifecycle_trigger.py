"""CON-4: the database refuses every state change that is not a declared transition, and
``approved`` without a decision record, whatever writes it (ADR 0014). PostgreSQL only."""

from __future__ import annotations

from itertools import permutations

import pytest
from django.db import IntegrityError, connection, transaction

from approvals.choices import RequestState
from approvals.lifecycle_trigger import declared_transitions, guarded_models, installed_transitions
from approvals.models import DecisionRecord, PromotionRequest
from registry.choices import VersionState
from registry.models import ModelVersion
from tests.approvals.factories import PromotionRequestFactory
from tests.registry.factories import ModelVersionFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the lifecycle triggers are PostgreSQL's; SQLite has only the FSM (ADR 0014)",
    ),
]

STATES = {ModelVersion: VersionState.values, PromotionRequest: RequestState.values}


def row_in(model, state: str):
    if model is ModelVersion:
        return ModelVersionFactory(state=state)
    return PromotionRequestFactory(state=state)


def write_state(model, pk: int, state: str, *, through: str) -> None:
    """Change the state bypassing the FSM: ``queryset.update()`` or raw SQL."""
    if through == "update":
        model.objects.filter(pk=pk).update(state=state)
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                f'UPDATE "{model._meta.db_table}" SET state = %s WHERE id = %s', [state, pk]
            )


def refused(model, pk: int, state: str, *, through: str) -> bool:
    try:
        with transaction.atomic():
            write_state(model, pk, state, through=through)
    except IntegrityError as exc:
        assert "govboard:" in str(exc)
        return True
    return False


def accepted_and_undone(model, pk: int, state: str) -> bool:
    """Write ``state`` in a savepoint, read it back, roll it back."""

    class Undo(Exception):
        pass

    seen = None
    try:
        with transaction.atomic():
            write_state(model, pk, state, through="update")
            seen = model.objects.get(pk=pk).state
            raise Undo
    except Undo:
        pass
    return seen == state


def approvable(model, source: str):
    """A row in ``source`` whose approval the database must accept: a request with its
    decision record, a version with an approved request that has one."""
    row = row_in(model, source)
    request = (
        row
        if model is PromotionRequest
        else PromotionRequestFactory(version=row, state=RequestState.APPROVED)
    )
    DecisionRecord.objects.create(
        request=request, envelope={}, statement_sha256="0" * 64, keyid="test"
    )
    return row


def test_the_installed_transitions_are_exactly_the_declared_ones():
    # Given the migrated database; when its allowed set is read back
    installed = installed_transitions()

    # Then it equals the django-fsm declarations of each guarded model, pair for pair
    assert installed == {
        model._meta.db_table: declared_transitions(model) for model in guarded_models()
    }
    assert len(installed["registry_modelversion"]) == 6
    assert len(installed["approvals_promotionrequest"]) == 12


def test_every_undeclared_state_change_is_refused_through_update_and_raw_sql():
    refusals = attempts = 0
    for model, states in STATES.items():
        # Given one row in each state
        rows = {state: row_in(model, state) for state in states}
        allowed = declared_transitions(model)
        for source, target in permutations(states, 2):
            if (source, target) in allowed:
                continue
            for through in ("update", "raw SQL"):
                # When the state is written past the FSM
                attempts += 1
                refusals += refused(model, rows[source].pk, target, through=through)
        # Then nothing changed
        assert {s: model.objects.get(pk=row.pk).state for s, row in rows.items()} == {
            s: s for s in states
        }
    print(f"\nCON-4: {refusals} of {attempts} undeclared state changes refused by the trigger")
    assert refusals == attempts == 2 * (20 - 6 + 56 - 12)


def test_every_declared_transition_is_accepted_by_the_database():
    accepted = 0
    for model in STATES:
        for source, target in sorted(declared_transitions(model)):
            # Given a row in the source state (and a decision record where approval needs one)
            row = approvable(model, source) if target == "approved" else row_in(model, source)
            # When the target is written directly, then the database takes it
            assert accepted_and_undone(model, row.pk, target), (model, source, target)
            accepted += 1
    print(f"\nCON-4: {accepted} declared transitions accepted by the database")
    assert accepted == 18


def test_a_request_is_not_approved_without_its_decision_record():
    # Given a request in review without a decision record
    request = PromotionRequestFactory(state=RequestState.IN_REVIEW)

    # When it is approved by a direct write, then the database refuses it
    with pytest.raises(IntegrityError, match="without a decision record"), transaction.atomic():
        write_state(PromotionRequest, request.pk, "approved", through="update")

    # And nothing changed
    request.refresh_from_db()
    assert request.state == RequestState.IN_REVIEW
    assert not DecisionRecord.objects.exists()


@pytest.mark.parametrize("request_state", [None, RequestState.APPROVED, RequestState.IN_REVIEW])
def test_a_version_is_not_approved_without_an_approved_request_and_its_record(request_state):
    # Given a candidate with no request, an approved request lacking its decision record,
    # or a request in review that has one
    version = ModelVersionFactory(state=VersionState.CANDIDATE)
    if request_state is not None:
        request = PromotionRequestFactory(version=version, state=request_state)
        if request_state == RequestState.IN_REVIEW:
            DecisionRecord.objects.create(
                request=request, envelope={}, statement_sha256="0" * 64, keyid="test"
            )

    # When the version is approved by raw SQL, then the database refuses it
    with pytest.raises(IntegrityError, match="without an approved request"), transaction.atomic():
        write_state(ModelVersion, version.pk, "approved", through="raw SQL")

    # And nothing changed
    version.refresh_from_db()
    assert version.state == VersionState.CANDIDATE
