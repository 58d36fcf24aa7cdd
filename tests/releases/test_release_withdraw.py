"""Withdrawing a release (``registry.services.releases.release_withdraw``): refused, with
nothing changed, once the release has entered a ring past offline validation or while a
ring-entry request is open; and the release page offers its Withdraw button once."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from core.errors import IllegalTransition
from registry.choices import ReleaseState
from registry.models import Release
from registry.services.releases import release_withdraw
from tests.registry.factories import team_member
from tests.releases.rings_helpers import enter_directly, request_ring, stack_release

pytestmark = pytest.mark.django_db


def snapshot(release: Release) -> tuple[str, int, int]:
    """What a refused withdrawal must leave as it was: the state and the audit trail."""
    release.refresh_from_db()
    return release.state, AuditEvent.objects.count(), release.ring_requests.count()


@pytest.fixture
def release() -> Release:
    return stack_release()


@pytest.fixture
def registrant(release):
    return team_member(release.team, "register_versions", is_staff=True)


def test_a_release_that_entered_a_ring_is_refused_and_told_to_roll_back(release, registrant):
    enter_directly(release, "offline_validation", days_ago=3)
    enter_directly(release, "internal", days_ago=1)
    before = snapshot(release)

    with pytest.raises(IllegalTransition, match="entered internal in prod: roll it back"):
        release_withdraw(registrant, release=release, reason="superseded")

    assert snapshot(release) == before
    assert before[0] == ReleaseState.SUBMITTED


def test_a_release_with_an_open_ring_request_is_refused_until_that_is_withdrawn(
    release, registrant
):
    request_ring(release, "offline_validation")
    before = snapshot(release)

    with pytest.raises(IllegalTransition, match="has an open ring request: withdraw that first"):
        release_withdraw(registrant, release=release, reason="superseded")

    assert snapshot(release) == before
    assert before[0] == ReleaseState.SUBMITTED


def test_only_offline_validation_entered_still_withdraws(release, registrant):
    # Offline validation never served traffic: nothing to roll back.
    enter_directly(release, "offline_validation", days_ago=1)

    release_withdraw(registrant, release=release, reason="superseded")

    release.refresh_from_db()
    assert release.state == ReleaseState.WITHDRAWN


def test_the_refusal_reaches_the_admin_form_and_changes_nothing(release, registrant):
    enter_directly(release, "offline_validation", days_ago=3)
    enter_directly(release, "internal", days_ago=1)
    before = snapshot(release)
    client = Client()
    client.force_login(registrant)

    response = client.post(
        reverse("admin:registry_release_withdraw", args=[release.pk]), {"reason": "superseded"}
    )

    assert response.status_code == 200
    assert "roll it back instead of withdrawing it" in response.content.decode()
    assert snapshot(release) == before


def test_the_release_page_offers_withdraw_exactly_once(release, registrant):
    client = Client()
    client.force_login(registrant)

    page = client.get(reverse("admin:registry_release_change", args=[release.pk]))

    assert page.status_code == 200
    withdraw_url = reverse("admin:registry_release_withdraw", args=[release.pk])
    assert page.content.decode().count(f'href="{withdraw_url}"') == 1
