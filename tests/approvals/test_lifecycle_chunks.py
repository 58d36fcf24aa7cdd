"""A lifecycle sweep handles each chunk of versions in one transaction with bulk writes
(issue 12's benchmark: thousands of changes in seconds), and every version still gets
its own state change, history row, audit event, firing and notification; a chunk that
fails is handled again one version at a time, leaving nothing of the failed attempt."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.db import transaction
from django.test.utils import CaptureQueriesContext

from approvals import services
from approvals.hygiene.rules import LifecycleRule
from approvals.models import LifecycleRuleFiring, Notification, WebhookDelivery, WebhookEndpoint
from audit.models import AuditEvent
from audit.services import record_many
from audit.verbs import AuditVerb
from core.errors import IllegalTransition
from registry.models import ModelVersion
from registry.services.version_batches import versions_deprecate_locked
from tests.approvals.lifecycle_scenario import T0, approved_version, state_of, team_policy
from tests.registry.factories import ModelVersionFactory, TeamFactory

pytestmark = pytest.mark.django_db

AFTER_EXPIRY = T0 + timedelta(days=400)


def _expired_versions(count: int, *, action: str = "deprecate") -> list[ModelVersion]:
    team = TeamFactory()
    policy = team_policy(team, {"expired": {"action": action}})
    return [approved_version(policy, team=team) for _ in range(count)]


def _sweep_expired(chunk_size: int = 200):
    return services.lifecycle_rule_sweep(
        rule=LifecycleRule.EXPIRED, via="system:task t-1", now=AFTER_EXPIRY, chunk_size=chunk_size
    )


def _assert_each_deprecated_once(versions: list[ModelVersion], *, deliveries: int = 0) -> None:
    for version in versions:
        assert state_of(version) == "deprecated"
        firing = LifecycleRuleFiring.objects.get(version=version, rule="expired")
        event = AuditEvent.objects.get(verb=AuditVerb.VERSION_DEPRECATED, object_id=str(version.pk))
        assert event.actor_id is None and event.actor_label == "system:task t-1"
        assert event.data["rule"] == "expired" and event.data["firing"] == firing.pk
        assert "approval_expires_at" in event.data["evidence"]
        assert event.data["before"] == {"state": "approved"}
        assert event.team_id == version.registered_model.team_id
        history = version.history.order_by("-history_id").first()
        assert history.state == "deprecated" and history.history_type == "~"
        notification = Notification.objects.get(key=f"lifecycle:{firing.pk}")
        assert notification.event_id == event.pk
        assert WebhookDelivery.objects.filter(event_id=event.pk).count() == deliveries


@pytest.mark.parametrize("count", [3, 12])
def test_a_chunk_of_expired_versions_is_deprecated_each_with_its_own_rows(count, caplog):
    # Given expired versions and a webhook endpoint that wants every event
    WebhookEndpoint.objects.create(name="routing", url="https://routing.example.test/h", secret="s")
    versions = _expired_versions(count)

    # When the expired rule's sweep runs (all of them in one chunk)
    with caplog.at_level(logging.WARNING, logger="core.sweeps"):
        report = _sweep_expired()

    # Then each is deprecated with one firing, one system audit event naming the rule and
    # its evidence, one history row, one notification and one webhook delivery
    # (by the chunk's bulk path: it did not fail over to one version at a time)
    assert (report.changed, report.failed) == (count, [])
    assert not caplog.records
    _assert_each_deprecated_once(versions, deliveries=1)
    assert AuditEvent.objects.filter(verb=AuditVerb.VERSION_DEPRECATED).count() == count


def test_the_sweep_costs_the_same_queries_for_3_and_12_versions():
    # Given two teams' expired versions, 3 and then 12, each swept alone
    def queries_for(count: int) -> int:
        versions = _expired_versions(count)
        with CaptureQueriesContext(transaction.get_connection()) as captured:
            report = _sweep_expired()
        assert report.changed == count
        _assert_each_deprecated_once(versions)
        return len(captured.captured_queries)

    # Then the writes are set-based: the count does not grow with the chunk
    assert queries_for(3) == queries_for(12)


def test_a_notify_rule_tells_each_owner_without_changing_the_versions():
    # Given expired versions under a policy whose expired rule only notifies
    versions = _expired_versions(4, action="notify")

    # When the sweep runs
    report = _sweep_expired()

    # Then each stays approved, with one notified event naming the rule, and one
    # notification
    assert report.changed == 4
    for version in versions:
        assert state_of(version) == "approved"
        event = AuditEvent.objects.get(
            verb=AuditVerb.LIFECYCLE_RULE_NOTIFIED, object_id=str(version.pk)
        )
        assert event.actor_label == "system:task t-1" and event.data["rule"] == "expired"
        assert Notification.objects.filter(event_id=event.pk).count() == 1


def test_a_failing_chunk_is_rolled_back_and_handled_one_version_at_a_time(monkeypatch):
    # Given expired versions, and a bulk deprecation that breaks
    versions = _expired_versions(5)

    def broken(**kwargs):
        raise RuntimeError("the bulk path broke")

    monkeypatch.setattr(services.hygiene, "versions_deprecate_locked", broken)

    # When the sweep runs in chunks of two
    report = _sweep_expired(chunk_size=2)

    # Then nothing of the failed chunks was kept (their firings rolled back) and each
    # version was handled alone, once
    assert (report.changed, report.failed) == (5, [])
    _assert_each_deprecated_once(versions)


def test_a_second_sweep_changes_nothing_more():
    # Given expired versions already swept
    _expired_versions(3)
    _sweep_expired()
    before = (AuditEvent.objects.count(), Notification.objects.count())

    # When the sweep runs again
    report = _sweep_expired()

    # Then it acted on nothing and wrote nothing
    assert report.changed == 0
    assert (AuditEvent.objects.count(), Notification.objects.count()) == before


def test_the_bulk_deprecation_refuses_a_version_that_cannot_be_deprecated():
    # Given an approved version and a retired one, both locked in one transaction
    approved = _expired_versions(1)[0]
    retired = ModelVersionFactory(state="retired")
    events = AuditEvent.objects.count()

    # When both are deprecated in bulk
    with pytest.raises(IllegalTransition), transaction.atomic():
        locked = list(
            ModelVersion.objects.select_for_update()
            .select_related("registered_model")
            .filter(pk__in=[approved.pk, retired.pk])
            .order_by("pk")
        )
        versions_deprecate_locked(
            via="system:task t-1",
            versions=locked,
            reasons={v.pk: "approval expired" for v in locked},
            extras={},
        )

    # Then neither changed and no event was written
    assert (state_of(approved), state_of(retired)) == ("approved", "retired")
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db(transaction=True)
def test_bulk_audit_events_are_refused_outside_a_transaction_and_with_a_bad_verb():
    # Given a version
    version = ModelVersionFactory()
    events = AuditEvent.objects.count()

    # When events are recorded in bulk outside a transaction, or with a made-up verb
    with pytest.raises(RuntimeError, match="inside the transaction"):
        record_many(actor=None, verb=AuditVerb.VERSION_DEPRECATED, entries=[(version, None, {})])
    with pytest.raises(TypeError, match="takes an AuditVerb"), transaction.atomic():
        record_many(actor=None, verb="version.vanished", entries=[(version, None, {})])

    # Then nothing was written
    assert AuditEvent.objects.count() == events
