"""Two ring requests for the same ring at once: one wins, the other writes nothing."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from approvals.choices import RequestState
from approvals.models import PromotionRequest
from approvals.services.rings import ring_entry_request
from audit.models import AuditEvent
from audit.verbs import AuditVerb
from core.errors import Conflict
from tests.approvals.factories import ci_user
from tests.approvals.test_races import postgresql_only, together  # noqa: F401 (fixture)
from tests.releases.rings_helpers import model_component, stack_release

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.usefixtures("postgresql_only")
def test_two_concurrent_requests_for_the_same_ring_give_one_request_and_one_event():
    release = stack_release()
    ci = ci_user(release.team)

    def ask():
        return ring_entry_request(
            actor=ci, release=release.pk, environment="prod", ring="offline_validation"
        )

    results = together([ask, ask, ask])
    won = [r for r in results if isinstance(r, PromotionRequest)]
    lost = [r for r in results if not isinstance(r, PromotionRequest)]
    assert len(won) == 1, results
    assert all(isinstance(r, Conflict) for r in lost), lost
    assert PromotionRequest.objects.filter(release=release).count() == 1
    assert AuditEvent.objects.filter(verb=AuditVerb.PROMOTION_SUBMITTED).count() == 1


def test_the_database_refuses_a_second_open_request_for_the_same_ring(seeded_policies):
    release = stack_release()
    first = ring_entry_request(
        actor=ci_user(release.team), release=release, environment="prod", ring="offline_validation"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        PromotionRequest.objects.create(
            version=model_component(release),
            team=release.team,
            release=release,
            environment="prod",
            target_ring="offline_validation",
            policy=first.policy,
            policy_snapshot=first.policy_snapshot,
            requested_by=first.requested_by,
            state=RequestState.SUBMITTED,
        )
    assert PromotionRequest.objects.filter(release=release).count() == 1
