"""approvals 0022 copies every existing request's team from its version's model, ring
requests included, and leaves the column NOT NULL behind its indexes."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from tests.approvals.factories import PromotionRequestFactory
from tests.registry.factories import TeamFactory
from tests.releases.rings_helpers import request_ring, stack_release

BEFORE = [("approvals", "0021_review_queue_order_index")]
AFTER = [("approvals", "0022_promotion_request_team")]


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.fixture
def back_to_the_latest_schema():
    """The test migrates back; every test after it needs the whole schema again."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def _teams_of_requests() -> dict[int, tuple[int, int]]:
    """Each request's stored team and its version's model's team, in SQL (the schema in
    between has no model to read it with)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT request.id, request.team_id, model.team_id "
            "FROM approvals_promotionrequest AS request "
            "JOIN registry_modelversion AS version ON version.id = request.version_id "
            "JOIN registry_registeredmodel AS model ON model.id = version.registered_model_id"
        )
        return {pk: (stored, owner) for pk, stored, owner in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("back_to_the_latest_schema", "seeded_policies")
def test_existing_requests_get_their_version_s_team_and_the_column_becomes_not_null():
    # Given requests of two teams and a ring request, in a database from before the column
    vision, speech = TeamFactory(), TeamFactory()
    plain = [
        PromotionRequestFactory(version__registered_model__team=team, state=state)
        for team in (vision, speech)
        for state in ("in_review", "approved")
    ]
    ring = request_ring(stack_release(team=speech), "offline_validation")
    _migrate(BEFORE)
    assert "team_id" not in {
        column.name
        for column in connection.introspection.get_table_description(
            connection.cursor(), "approvals_promotionrequest"
        )
    }

    # When the migration runs
    _migrate(AFTER)

    # Then every request names its version's model's team
    teams = _teams_of_requests()
    assert sorted(teams) == sorted(r.pk for r in [*plain, ring])
    assert all(stored == owner for stored, owner in teams.values()), teams
    assert teams[ring.pk][0] == speech.pk
    assert teams[plain[0].pk][0] == vision.pk
    # And the database refuses a request without one
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE approvals_promotionrequest SET team_id = NULL")
