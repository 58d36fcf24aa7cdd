"""Deprecated versions are retired when the approving policy's grace period has ended."""

from __future__ import annotations

from datetime import timedelta

import pytest

from approvals import services
from approvals.tasks import retire_after_grace
from audit.models import AuditEvent
from core import permissions
from tests.approvals.factories import request_in_review
from tests.registry.factories import PASSWORD, TeamFactory, UserFactory, approver

pytestmark = pytest.mark.django_db


def _approved_then_deprecated(team, grace_days: int):
    request = request_in_review(registered_model__team=team)
    for role in ("platform", "product", "security"):
        services.signoff_record(
            actor=approver(team, role), request=request, role=role, password=PASSWORD
        )
    manager = UserFactory()
    permissions.grant_team_role(manager, "registry.manage_governance", team)
    version = services.version_deprecate(actor=manager, version=request.version, reason="replaced")
    request.refresh_from_db()
    assert request.policy_snapshot["retirement_grace_days"] == grace_days
    return version


def test_a_deprecated_version_is_retired_only_after_its_policy_grace(settings):
    # Given a version approved under a policy with 30 days of grace, then deprecated
    team = TeamFactory()
    version = _approved_then_deprecated(team, grace_days=30)
    assert version.deprecated_at is not None

    # When the sweep runs 29 days later, nothing happens; 31 days later, it is retired
    early = services.versions_retire_after_grace(
        via="system:test", now=version.deprecated_at + timedelta(days=29)
    )
    late = services.versions_retire_after_grace(
        via="system:test", now=version.deprecated_at + timedelta(days=31)
    )

    # Then it was retired once, by the system, with the reason
    assert (early, late) == (0, 1)
    version.refresh_from_db()
    assert version.state == "retired"
    event = AuditEvent.objects.get(verb="version.retired")
    assert (event.actor, event.actor_label) == (None, "system:test")
    assert "30 days" in event.data["reason"]
    assert (
        services.versions_retire_after_grace(
            via="system:again", now=version.deprecated_at + timedelta(days=60)
        )
        == 0
    )


def test_the_beat_task_retires_through_the_same_sweep():
    team = TeamFactory()
    version = _approved_then_deprecated(team, grace_days=30)
    later = version.deprecated_at + timedelta(days=45)
    assert retire_after_grace.apply(kwargs={"now": later}).get() == 1
    version.refresh_from_db()
    assert version.state == "retired"
