"""The reports' scenario, built once per module inside a transaction rolled back at its
end (each test still runs in its own savepoint), as the API tests build their world."""

from __future__ import annotations

import pytest
from django.db import transaction

from tests.reports.scenario import Scenario, build_scenario, global_auditor, team_auditor


@pytest.fixture(scope="module")
def scenario(django_db_setup, django_db_blocker) -> Scenario:
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = build_scenario()
            built.auditor = global_auditor(username="auditor")
            built.alpha_auditor = team_auditor(built.alpha, username="alpha-auditor")
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)
