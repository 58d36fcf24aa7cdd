"""The auditor role is refused every write in the API policy table (issue 10), globally
("Auditors") or for chosen teams ("Team auditors" + ``registry.view_team_registry``):
403 or 404 on each, and nothing changes. The requests are the authorization matrix's."""

from __future__ import annotations

import pytest

from govboard.api_policy import API_POLICY
from tests.govboard.api.test_authorization_matrix import call
from tests.reports.scenario import global_auditor, team_auditor
from tests.world import governance_snapshot

pytestmark = pytest.mark.django_db

API_WRITES = sorted(
    (name, method) for name, rules in API_POLICY.items() for method in rules if method != "GET"
)


@pytest.mark.parametrize("kind", ["global", "team"])
def test_an_auditor_is_refused_every_write_in_the_api_policy_table(world, kind):
    auditor = global_auditor() if kind == "global" else team_auditor(world.team_a)
    world.users["auditor_under_test"] = auditor
    before = governance_snapshot()

    answers = {endpoint: call(world, "auditor_under_test", endpoint) for endpoint in API_WRITES}

    assert len(API_WRITES) >= 8
    assert {e: r.status_code for e, r in answers.items() if r.status_code not in (403, 404)} == {}
    assert governance_snapshot() == before
