"""A retired version serves nobody: retirement is refused while a deployment serves it
(the scheduled path), or, as break-glass, ends those deployments in the same transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from approvals import services
from audit.models import AuditEvent
from core.errors import Conflict
from registry import services as registry_services
from registry.models import Deployment
from tests.approvals.factories import ci_user, request_in_review
from tests.registry.factories import (
    PASSWORD,
    TeamFactory,
    approver,
    manager,
    service_account_with_token,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return TeamFactory(slug="assistants")


def deprecated_and_serving(team, *, customers=("acme",)):
    """An approved version deployed to each customer, then deprecated by a manager."""
    request = request_in_review(registered_model__team=team)
    for role in ("platform", "product", "security"):
        services.signoff_record(
            actor=approver(team, role), request=request, role=role, password=PASSWORD
        )
    started = timezone.now() - timedelta(days=3)
    for customer in customers:
        registry_services.deployment_record(
            actor=ci_user(team),
            version=request.version,
            environment="production",
            customer_scope=customer,
            started_at=started,
        )
    boss = manager(team)
    version = services.version_deprecate(
        actor=boss, version=request.version, reason="replaced by 2.0"
    )
    return version, boss


def snapshot(version):
    version.refresh_from_db()
    return (
        version.state,
        sorted(Deployment.objects.values_list("id", "ended_at")),
        AuditEvent.objects.count(),
    )


def test_a_manager_cannot_retire_a_version_a_deployment_still_serves(team):
    version, boss = deprecated_and_serving(team)
    before = snapshot(version)

    with pytest.raises(Conflict, match="still serve"):
        services.version_retire(actor=boss, version=version, reason="done with it")

    assert snapshot(version) == before


def test_break_glass_retirement_ends_every_serving_deployment_in_the_same_transaction(team):
    # Given a deprecated version serving two customers
    version, boss = deprecated_and_serving(team, customers=("acme", "globex"))
    now = timezone.now()

    # When a manager retires it as break-glass
    services.version_retire(
        actor=boss, version=version, reason="critical CVE", end_deployments=True, now=now
    )

    # Then it is retired, both deployments ended at that moment, each with the reason
    version.refresh_from_db()
    assert version.state == "retired"
    assert set(Deployment.objects.values_list("ended_at", flat=True)) == {now}
    ended = AuditEvent.objects.filter(verb="deployment.ended").order_by("id")
    assert [e.actor for e in ended] == [boss, boss]
    assert all("critical CVE" in e.data["reason"] for e in ended)
    retired = AuditEvent.objects.get(verb="version.retired")
    assert sorted(retired.data["ended_deployments"]) == sorted(
        Deployment.objects.values_list("id", flat=True)
    )


def test_after_break_glass_nobody_is_served_the_retired_version(team, api_client):
    version, boss = deprecated_and_serving(team)
    services.version_retire(actor=boss, version=version, reason="pulled", end_deployments=True)
    _, token = service_account_with_token(teams=[team])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    now = timezone.now() + timedelta(seconds=1)
    response = api_client.get(
        "/api/v1/deployments/",
        {"customer_scope": "acme", "from": now.isoformat(), "until": now.isoformat()},
    )

    assert response.status_code == 200, response.json()
    assert response.json()["results"] == []


def test_the_scheduled_retirement_skips_a_served_version_and_retires_it_once_it_is_free(team):
    # Given a deprecated version past its grace that still serves a customer
    version, _ = deprecated_and_serving(team)
    later = version.deprecated_at + timedelta(days=60)
    before = snapshot(version)

    # When the sweep runs, it leaves it (the scheduler never ends a deployment): the one
    # thing written is the escalation to the people who can end it
    assert services.versions_retire_after_grace(via="system:test", now=later) == 0
    state, deployments, events = snapshot(version)
    assert (state, deployments, events - 1) == before
    assert AuditEvent.objects.latest("id").verb == "version.retirement_escalated"

    # When the deployment ends, the next sweep retires it
    registry_services.deployment_end(
        actor=ci_user(team), deployment=Deployment.objects.get(), ended_at=timezone.now()
    )
    assert services.versions_retire_after_grace(via="system:test", now=later) == 1
    version.refresh_from_db()
    assert version.state == "retired"


def test_a_served_version_does_not_stop_the_sweep_retiring_the_others(team):
    served, _ = deprecated_and_serving(team)
    free, _ = deprecated_and_serving(team, customers=())
    later = max(served.deprecated_at, free.deprecated_at) + timedelta(days=60)

    assert services.versions_retire_after_grace(via="system:test", now=later) == 1

    served.refresh_from_db()
    free.refresh_from_db()
    assert (served.state, free.state) == ("deprecated", "retired")


def test_the_admin_retire_button_refuses_while_served_and_offers_break_glass(team, client):
    version, boss = deprecated_and_serving(team)
    boss.is_staff = True
    boss.save()
    boss.user_permissions.add(*Permission.objects.filter(codename="view_modelversion"))
    client.force_login(boss)
    url = f"/admin/registry/modelversion/{version.pk}/retire/"

    refused = client.post(url, {"reason": "done"})
    assert refused.status_code == 200
    assert b"still serve" in refused.content
    version.refresh_from_db()
    assert version.state == "deprecated"

    done = client.post(url, {"reason": "done", "end_deployments": "on"})
    assert done.status_code == 302
    version.refresh_from_db()
    assert version.state == "retired"
    assert Deployment.objects.get().ended_at is not None
