"""Two lifecycle sweeps at once (JOB-1, in threads with their own PostgreSQL connections):
each version is changed once, with one event and one notification."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections

from approvals import services
from approvals.models import LifecycleRuleFiring, Notification
from audit.models import AuditEvent
from registry.models import ModelVersion
from tests.approvals.lifecycle_scenario import T0, approved_version, team_policy
from tests.registry.factories import TeamFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _together(calls):
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as exc:  # judged below, not a crash of the test
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_two_sweeps_at_once_change_each_version_once(seeded_policies):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every writer on one lock, so nothing races")
    # Given twelve quiet versions: half under a policy that deprecates, half that notifies
    versions = []
    for action in ("deprecate", "notify"):
        team = TeamFactory()
        policy = team_policy(team, {"stale": {"action": action, "after_days": 30}})
        versions += [approved_version(policy, team=team) for _ in range(6)]
    now = T0 + timedelta(days=31)

    # When two sweeps of the stale rule run at the same moment, small chunks interleaved
    results = _together(
        [
            lambda via=via: services.lifecycle_rule_sweep(
                rule="stale", via=via, now=now, chunk_size=2
            )
            for via in ("system:sweep-1", "system:sweep-2")
        ]
    )

    # Then neither failed, together they acted on each version once, and each version has
    # one firing, one event and one notification
    assert all(not isinstance(result, Exception) and not result.failed for result in results)
    assert sum(result.changed for result in results) == 12
    ids = [v.pk for v in versions]
    assert LifecycleRuleFiring.objects.filter(version_id__in=ids).count() == 12
    deprecated = ModelVersion.objects.filter(pk__in=ids, state="deprecated").count()
    assert deprecated == 6
    events = AuditEvent.objects.filter(
        verb__in=["version.deprecated", "lifecycle.rule_notified"],
        object_id__in=[str(pk) for pk in ids],
    )
    assert sorted(events.values_list("object_id", flat=True)) == sorted(str(pk) for pk in ids)
    assert Notification.objects.count() == 12
