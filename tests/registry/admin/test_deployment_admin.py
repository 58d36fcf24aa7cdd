"""Deployments have a read-only admin page with filters, limited to the teams the reader
may see."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from registry.models import Deployment
from tests.registry.admin.owner_scenario import owner_of
from tests.registry.factories import ModelVersionFactory, TeamFactory

pytestmark = pytest.mark.django_db

DEPLOYMENTS = reverse("admin:registry_deployment_changelist")


def deployment(version, environment: str, *, ended: bool = False) -> Deployment:
    start = timezone.now() - timedelta(days=3)
    return Deployment.objects.create(
        version=version,
        environment=environment,
        started_at=start,
        ended_at=start + timedelta(days=1) if ended else None,
        recorded_by=version.registered_model.owner,
    )


def reader_of(team):
    user = owner_of(team)
    user.user_permissions.add(Permission.objects.get(codename="view_deployment"))
    return user


def test_the_deployments_list_shows_the_readers_teams_and_filters_what_serves_now(client):
    # Given a team's deployment serving now, one ended, and another team's deployment
    version = ModelVersionFactory(state="approved")
    serving = deployment(version, "production")
    ended = deployment(version, "staging", ended=True)
    deployment(ModelVersionFactory(state="approved"), "production")
    client.force_login(reader_of(version.registered_model.team))

    # When the reader opens the list, then filters to what serves now
    everything = client.get(DEPLOYMENTS)
    now_serving = client.get(DEPLOYMENTS, {"serving": "now"})

    # Then they see only their team's deployments, and the filter keeps the serving one
    assert {d.pk for d in everything.context["cl"].result_list} == {serving.pk, ended.pk}
    assert [d.pk for d in now_serving.context["cl"].result_list] == [serving.pk]
    # And the version is shown by its model's name
    assert f"{version.registered_model.name} {version.version}" in everything.content.decode()


def test_a_deployment_cannot_be_added_changed_or_deleted_in_the_admin(client):
    # Given a deployment and a superuser
    version = ModelVersionFactory(state="approved")
    row = deployment(version, "production")
    client.force_login(owner_of(TeamFactory(), is_superuser=True))

    # When they post a change and a deletion
    change = client.post(
        reverse("admin:registry_deployment_change", args=[row.pk]), {"environment": "evil"}
    )
    delete = client.post(
        reverse("admin:registry_deployment_delete", args=[row.pk]), {"post": "yes"}
    )

    # Then both are refused and the row is unchanged
    assert change.status_code == 403
    assert delete.status_code == 403
    row.refresh_from_db()
    assert row.environment == "production"
    assert client.get(reverse("admin:registry_deployment_add")).status_code == 403


def test_the_deployments_list_loads_only_the_columns_it_shows(client):
    # Given a team's deployment of a version with metadata
    version = ModelVersionFactory(state="approved")
    deployment(version, "production")
    client.force_login(reader_of(version.registered_model.team))

    # When the reader opens the list
    response = client.get(DEPLOYMENTS)

    # Then the row's version is named without loading its JSON metadata
    (row,) = response.context["cl"].result_list
    assert {"parameters", "allowed_use_cases"} <= row.version.get_deferred_fields()
    assert f"{version.registered_model.name} {version.version}" in response.content.decode()
