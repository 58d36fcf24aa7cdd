"""A board member's queue in the admin: requests waiting for their role, expedited first,
overdue ones flagged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from approvals import services
from approvals.models import PromotionRequest
from core import permissions
from tests.approvals.factories import request_in_review
from tests.registry.factories import TeamFactory, UserFactory, approver

pytestmark = pytest.mark.django_db


def test_my_queue_lists_requests_awaiting_my_role_expedited_first_and_flags_overdue():
    # Given two requests in review on my team (the second expedited), and one on another team
    team = TeamFactory()
    first = request_in_review(registered_model__team=team)
    second = request_in_review(registered_model__team=team)
    request_in_review(registered_model__team=TeamFactory())
    manager = UserFactory()
    permissions.grant_team_role(manager, "registry.manage_governance", team)
    services.promotion_request_expedite(actor=manager, request=second, reason="launch day")
    reviewer = approver(team, "security")
    client = Client()
    client.force_login(reviewer)

    # When I open my queue
    page = client.get("/admin/approvals/promotionrequest/?queue=mine")

    # Then exactly my team's two requests are listed, the expedited one first
    assert page.status_code == 200
    rows = list(page.context["cl"].result_list)
    assert [r.pk for r in rows] == [second.pk, first.pk]
    assert not any(r.is_overdue for r in rows)

    # And once their due dates have passed both are flagged overdue (column and filter)
    PromotionRequest.objects.filter(pk__in=[first.pk, second.pk]).update(
        due_at=timezone.now() - timedelta(days=1)
    )
    overdue = client.get("/admin/approvals/promotionrequest/?queue=mine&overdue=yes")
    assert {r.pk for r in overdue.context["cl"].result_list} == {first.pk, second.pk}
    assert all(r.is_overdue for r in overdue.context["cl"].result_list)
