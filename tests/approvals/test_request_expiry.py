"""Requests left in review past their due date and the grace period expire."""

from __future__ import annotations

from datetime import timedelta

import pytest

from approvals import services
from approvals.tasks import expire_stale_requests
from audit.models import AuditEvent
from tests.approvals.factories import request_in_review
from tests.registry.factories import PASSWORD, TeamFactory, approver

pytestmark = pytest.mark.django_db


def _later(request, days):
    return request.due_at + timedelta(days=days)


def test_a_request_undecided_past_its_grace_expires_and_its_version_returns_to_draft(settings):
    # Given a request in review, and a sweep running 15 days after it was due (grace 14)
    settings.GOVBOARD_REVIEW_GRACE_DAYS = 14
    request = request_in_review(registered_model__team=TeamFactory())

    # When the sweep runs
    changed = services.promotion_requests_expire(via="system:test", now=_later(request, 15))

    # Then the request is expired with a reason, the version is draft, both audited
    assert changed == 1
    request.refresh_from_db()
    assert request.state == "expired"
    assert request.reasons[0].startswith("expired:")
    assert request.version.state == "draft"
    event = AuditEvent.objects.get(verb="promotion.expired")
    assert (event.actor, event.actor_label) == (None, "system:test")
    assert AuditEvent.objects.filter(verb="version.returned_to_draft").count() == 1


def test_a_request_within_its_grace_or_already_signed_is_left_alone(settings):
    settings.GOVBOARD_REVIEW_GRACE_DAYS = 14
    team = TeamFactory()
    waiting = request_in_review(registered_model__team=team)
    approved = request_in_review(registered_model__team=team)
    for role in ("platform", "product", "security"):
        services.signoff_record(
            actor=approver(team, role), request=approved, role=role, password=PASSWORD
        )

    changed = services.promotion_requests_expire(via="system:test", now=_later(waiting, 13))

    assert changed == 0
    waiting.refresh_from_db()
    approved.refresh_from_db()
    assert (waiting.state, approved.state) == ("in_review", "approved")


def test_sweeping_twice_expires_each_request_once():
    request = request_in_review(registered_model__team=TeamFactory())
    later = _later(request, 60)
    assert services.promotion_requests_expire(via="system:a", now=later) == 1
    assert services.promotion_requests_expire(via="system:b", now=later) == 0
    assert AuditEvent.objects.filter(verb="promotion.expired").count() == 1


def test_the_beat_task_runs_the_sweep():
    request = request_in_review(registered_model__team=TeamFactory())
    future = _later(request, 60)
    result = expire_stale_requests.apply(kwargs={"now": future})
    assert result.get() == 1
    request.refresh_from_db()
    assert request.state == "expired"
    assert AuditEvent.objects.get(verb="promotion.expired").actor_label.startswith("system:task ")
