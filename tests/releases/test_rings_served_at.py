"""Which model and threshold served customer C at time T (issue 13), as the API's
``/served/`` reads it: ``served_deployments``, each row ``served_row``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from registry.models import Deployment
from tests.registry.factories import UserFactory
from tests.releases.rings_helpers import config_component, model_component, served, stack_release

pytestmark = pytest.mark.django_db


def deploy(release, *, start, end, customer="acme"):
    return Deployment.objects.create(
        version=model_component(release),
        release=release,
        environment="prod",
        ring="general",
        customer_scope=customer,
        started_at=start,
        ended_at=end,
        recorded_by=UserFactory(),
    )


def test_served_at_returns_the_release_and_its_threshold_version_at_t_and_nothing_outside():
    now = timezone.now()
    release = stack_release()
    deploy(release, start=now - timedelta(days=10), end=now - timedelta(days=2))
    superuser = UserFactory(is_superuser=True)

    (row,) = served(superuser, customer="acme", at=now - timedelta(days=5))
    assert row["release"]["id"] == release.pk
    threshold = config_component(release)
    config = [c for c in row["release"]["components"] if c["kind"] == "config"]
    assert config == [
        {
            "kind": "config",
            "model": threshold.registered_model.name,
            "version": threshold.version,
            "version_id": threshold.pk,
            "parameters": {"decline_above": 0.82},
        }
    ]
    assert row["version"]["id"] == model_component(release).pk
    assert served(superuser, customer="acme", at=now - timedelta(days=1)) == []
    assert served(superuser, customer="other", at=now - timedelta(days=5)) == []


def test_served_at_takes_two_queries_for_one_or_many_deployments():
    now = timezone.now()
    superuser = UserFactory(is_superuser=True)
    served(superuser, customer="warm-up", at=now)  # the actor's lookups are cached
    counts = []
    for n in (1, 6):
        customer = f"customer-{n}"
        for _ in range(n):
            deploy(stack_release(), start=now - timedelta(days=3), end=None, customer=customer)
        with CaptureQueriesContext(connection) as queries:
            assert len(served(superuser, customer=customer, at=now)) == n
        counts.append(len(queries))
    assert counts[0] == counts[1]
