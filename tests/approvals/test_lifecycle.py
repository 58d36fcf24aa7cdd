"""Deprecating or retiring a version closes its open promotion request in the same
transaction; sweeps go on past an item that fails; a lock wait past its bound is a 503
that changed nothing (issue 8, ADR 0010)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from approvals import services
from approvals.models import PromotionRequest
from approvals.services import hygiene as hygiene_services
from audit.models import AuditEvent
from core.errors import IllegalTransition
from registry import services as registry_services
from registry.models import ModelVersion
from tests.approvals.factories import ci_user, governance_row_counts, request_in_review
from tests.registry.factories import (
    PASSWORD,
    TeamFactory,
    approver,
    manager,
    service_account_with_token,
)
from tests.world import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return TeamFactory(slug="assistants")


def test_deprecating_a_version_under_review_withdraws_its_request_with_the_reason(team):
    # Given a candidate version whose request is in review
    request = request_in_review(registered_model__team=team)
    boss = manager(team)

    # When a manager deprecates the version
    version = services.version_deprecate(actor=boss, version=request.version, reason="CVE")

    # Then the request is withdrawn in the same transaction, saying why, and audited
    request.refresh_from_db()
    assert (version.state, request.state) == ("deprecated", "withdrawn")
    assert request.reasons == ["withdrawn: the version was deprecated (CVE)"]
    event = AuditEvent.objects.get(verb="promotion.withdrawn")
    assert (event.actor, event.data["reason"]) == (boss, "the version was deprecated (CVE)")
    assert (event.data["before"], event.data["after"]) == (
        {"state": "in_review"},
        {"state": "withdrawn"},
    )


def test_the_last_sign_off_after_a_deprecation_is_refused_cleanly(team):
    request = request_in_review(registered_model__team=team)
    for role in ("platform", "product"):
        services.signoff_record(
            actor=approver(team, role), request=request, role=role, password=PASSWORD
        )
    services.version_deprecate(actor=manager(team), version=request.version, reason="pulled")
    before = governance_row_counts()

    with pytest.raises(IllegalTransition, match="withdrawn"):
        services.signoff_record(
            actor=approver(team, "security"), request=request, role="security", password=PASSWORD
        )

    assert governance_row_counts() == before


def test_a_refused_deprecation_leaves_the_request_open(team):
    request = request_in_review(registered_model__team=team)
    before = governance_row_counts()

    with pytest.raises(Exception, match="governance managers"):
        services.version_deprecate(
            actor=approver(team, "security"), version=request.version, reason="no"
        )

    request.refresh_from_db()
    assert request.state == "in_review"
    assert governance_row_counts() == before


def approved_version(team):
    request = request_in_review(registered_model__team=team)
    for role in ("platform", "product", "security"):
        services.signoff_record(
            actor=approver(team, role), request=request, role=role, password=PASSWORD
        )
    return ModelVersion.objects.get(pk=request.version_id)


def test_one_version_that_fails_does_not_stop_the_expiry_sweep(team, monkeypatch, caplog):
    # Given three expired approvals, and a fault that makes the middle one raise
    versions = [approved_version(team) for _ in range(3)]
    far = timezone.now() + timedelta(days=3650)
    broken = versions[1].pk
    real = registry_services.version_deprecate

    def faulty(**kwargs):
        version = kwargs["version"]
        if getattr(version, "pk", version) == broken:
            raise RuntimeError("disk on fire")
        return real(**kwargs)

    monkeypatch.setattr(registry_services, "version_deprecate", faulty)
    # The sweep first writes a whole chunk at once; the fault fails that chunk too, so it is
    # rolled back and redone one version at a time, where only the broken one fails.
    real_chunk = hygiene_services.versions_deprecate_locked

    def faulty_chunk(**kwargs):
        if any(version.pk == broken for version in kwargs["versions"]):
            raise RuntimeError("disk on fire")
        return real_chunk(**kwargs)

    monkeypatch.setattr(hygiene_services, "versions_deprecate_locked", faulty_chunk)

    # When the sweep runs
    changed = services.versions_expire_approvals(via="system:test", now=far)

    # Then the two others are deprecated, the broken one is untouched and logged by id
    assert changed == 2
    states = {v.pk: v.state for v in ModelVersion.objects.filter(pk__in=[v.pk for v in versions])}
    assert states == {
        versions[0].pk: "deprecated",
        broken: "approved",
        versions[2].pk: "deprecated",
    }
    assert f"item {broken} failed" in caplog.text
    assert "1 failed" in caplog.text


def test_the_stale_request_sweep_reads_the_version_under_its_lock(team):
    # Given a request due long ago whose version a manager deprecated meanwhile
    request = request_in_review(registered_model__team=team)
    PromotionRequest.objects.filter(pk=request.pk).update(
        due_at=timezone.now() - timedelta(days=60)
    )
    services.version_deprecate(actor=manager(team), version=request.version, reason="pulled")

    # When the sweep runs, it finds nothing to expire (the request was withdrawn) and
    # never tries to return the deprecated version to draft
    assert services.promotion_requests_expire(via="system:test") == 0
    request.refresh_from_db()
    request.version.refresh_from_db()
    assert (request.state, request.version.state) == ("withdrawn", "deprecated")


def test_a_lock_wait_past_its_bound_is_a_503_and_changes_nothing(transactional_db, team):
    if connection.vendor != "postgresql":
        pytest.skip("lock_timeout is a PostgreSQL setting")
    from tests.conftest import reseed_governance_policies

    reseed_governance_policies()
    request = request_in_review(registered_model__team=team)
    _, token = service_account_with_token(teams=[team])
    ci = ci_user(team)
    assert ci is not None
    holding, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                PromotionRequest.objects.select_for_update().get(pk=request.pk)
                holding.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    with ThreadPoolExecutor(max_workers=1) as pool:
        holder = pool.submit(hold)
        assert holding.wait(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        before = governance_row_counts()
        response = client.post(f"/api/v1/promotion-requests/{request.pk}/withdraw/")
        release.set()
        holder.result(timeout=30)

    problem = assert_problem(response, 503)
    assert problem["type"].endswith("timeout")
    assert response["Retry-After"] == "2"
    request.refresh_from_db()
    assert request.state == "in_review"
    assert governance_row_counts() == before
