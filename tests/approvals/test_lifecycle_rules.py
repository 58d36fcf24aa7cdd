"""The lifecycle rules of the governing policy (issue 12): stale, unowned, vulnerable and
expired, each against a scenario with a known answer and its near misses; what each
action does; and that a second run changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from approvals import services
from approvals import tasks as approval_tasks
from approvals.hygiene.rules import LifecycleRule
from approvals.models import ContactBounce, GovernancePolicy, LifecycleRuleFiring, Notification
from audit.models import AuditEvent
from core.errors import InvalidInput
from registry import services as registry_services
from tests.approvals.lifecycle_scenario import (
    T0,
    approved_version,
    lifecycle_counts,
    serve,
    state_of,
    team_policy,
    trivy_report,
    upload_scan,
)
from tests.registry.factories import TeamFactory, UserFactory, approver

pytestmark = pytest.mark.django_db

NOTIFY_ALL = {
    "stale": {"action": "notify", "after_days": 180},
    "unowned": {"action": "notify"},
    "vulnerable": {"action": "notify"},
}


def run(rule: str, now, via: str = "system:test") -> int:
    return services.lifecycle_rule_sweep(rule=LifecycleRule(rule), via=via, now=now).changed


# --- policy validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"stale": {"action": "notify"}}, "stale: after_days is required"),
        ({"stale": {"action": "notify", "after_days": 0}}, "stale: after_days must be"),
        ({"stale": {"action": "notify", "after_days": "30"}}, "stale: after_days must be"),
        ({"unowned": {"action": "retire"}}, "unowned: action must be one of"),
        ({"vulnerable": {"action": "notify", "after_days": 3}}, "unknown setting 'after_days'"),
        ({"abandoned": {"action": "notify"}}, "unknown rule 'abandoned'"),
        ({"expired": "deprecate"}, "expired: settings must be an object"),
        (["stale"], "must map rule names"),
    ],
)
def test_a_policy_with_bad_lifecycle_rules_is_refused_with_a_clear_error(rules, message):
    # Given a person who may create policies
    admin = UserFactory(is_superuser=True)
    before = GovernancePolicy.objects.count()

    # When they create one with a broken rule
    with pytest.raises(InvalidInput) as refused:
        services.policy_create(
            actor=admin,
            policy=GovernancePolicy(
                name="broken", required_roles={"platform": 1}, lifecycle_rules=rules
            ),
        )

    # Then the error names the rule and the setting, and nothing is stored
    assert any(message in problem for problem in refused.value.errors["lifecycle_rules"])
    assert GovernancePolicy.objects.count() == before


def test_a_valid_policy_keeps_its_rules_in_the_snapshot_requests_are_judged_by():
    admin = UserFactory(is_superuser=True)
    policy = services.policy_create(
        actor=admin,
        policy=GovernancePolicy(
            name="ok", required_roles={"platform": 1}, lifecycle_rules=NOTIFY_ALL
        ),
    )
    assert policy.snapshot()["lifecycle_rules"] == NOTIFY_ALL


# --- stale ---------------------------------------------------------------------------


def test_stale_fires_on_a_quiet_unserved_version_and_not_on_near_misses():
    # Given, under a policy with stale after 180 days: a version nothing touched, one a
    # deployment still serves, and one whose last deployment ended 100 days after T0
    team = TeamFactory()
    policy = team_policy(team, NOTIFY_ALL)
    quiet = approved_version(policy, team=team)
    served = approved_version(policy, team=team)
    serve(served, since=T0 - timedelta(hours=1))
    recently_used = approved_version(policy, team=team)
    serve(recently_used, since=T0 - timedelta(hours=1), until=T0 + timedelta(days=100))

    # When the sweep runs 179 days on, then 181 days on
    early = run("stale", T0 + timedelta(days=179))
    late = run("stale", T0 + timedelta(days=181))

    # Then only the quiet version is notified, once, and it stays approved
    assert (early, late) == (0, 1)
    [firing] = LifecycleRuleFiring.objects.all()
    assert (firing.version_id, firing.rule, firing.action) == (quiet.pk, "stale", "notify")
    assert {state_of(v) for v in (quiet, served, recently_used)} == {"approved"}
    event = AuditEvent.objects.get(verb="lifecycle.rule_notified")
    assert (event.actor, event.actor_label, event.object_id) == (None, "system:test", str(quiet.pk))
    assert event.data["rule"] == "stale"
    assert event.data["evidence"]["after_days"] == 180
    assert event.data["policy"] == {"id": policy.pk, "version": policy.version}


# --- unowned -------------------------------------------------------------------------


def _deactivate(*users):
    for user in users:
        user.is_active = False
        user.save(update_fields=["is_active"])


def test_unowned_fires_when_both_owners_left_or_the_contact_bounced_and_not_otherwise():
    # Given: both owners deactivated; only the owner deactivated; a bounced escalation
    # contact; a contact whose bounce was cleared
    team = TeamFactory()
    policy = team_policy(team, NOTIFY_ALL)
    both_gone = approved_version(policy, team=team)
    _deactivate(both_gone.registered_model.owner, both_gone.registered_model.backup_owner)
    one_gone = approved_version(policy, team=team)
    _deactivate(one_gone.registered_model.owner)
    bounced = approved_version(policy, team=team, escalation_contact="gone@example.test")
    cleared = approved_version(policy, team=team, escalation_contact="back@example.test")
    services.contact_bounce_record(
        actor=None, address="Gone@example.test", detail="550 no such user"
    )
    admin = UserFactory(is_superuser=True)
    back = services.contact_bounce_record(actor=None, address="back@example.test", detail="550")
    services.contact_bounce_clear(actor=admin, bounce=back)

    # When the sweep runs
    changed = run("unowned", T0)

    # Then exactly the two unowned versions are notified, with the reason
    assert changed == 2
    fired = dict(LifecycleRuleFiring.objects.values_list("version_id", "reason"))
    assert set(fired) == {both_gone.pk, bounced.pk}
    assert "owner and the backup owner are both inactive" in fired[both_gone.pk]
    assert "gone@example.test bounced" in fired[bounced.pk]
    assert cleared.pk not in fired and one_gone.pk not in fired


def test_a_bounce_of_an_address_with_an_open_bounce_adds_nothing():
    first = services.contact_bounce_record(actor=None, address="x@example.test", detail="550")
    again = services.contact_bounce_record(actor=None, address="X@example.test", detail="551")
    assert again.pk == first.pk
    assert ContactBounce.objects.count() == 1


def test_only_an_administrator_records_or_clears_a_bounce():
    person = UserFactory()
    bounce = services.contact_bounce_record(actor=None, address="y@example.test", detail="550")
    before = AuditEvent.objects.count()
    with pytest.raises(Exception, match="Only administrators"):
        services.contact_bounce_record(actor=person, address="z@example.test", detail="550")
    with pytest.raises(Exception, match="Only administrators"):
        services.contact_bounce_clear(actor=person, bounce=bounce)
    bounce.refresh_from_db()
    assert bounce.cleared_at is None
    assert ContactBounce.objects.count() == 1
    assert AuditEvent.objects.count() == before


# --- vulnerable ----------------------------------------------------------------------


def test_vulnerable_fires_on_a_critical_finding_uploaded_after_approval_and_not_on_near_misses(
    settings, tmp_path
):
    # Given versions approved a day ago under a policy that deprecates vulnerable ones
    settings.MEDIA_ROOT = tmp_path
    team = TeamFactory()
    policy = team_policy(team, {"vulnerable": {"action": "deprecate"}})
    critical = approved_version(policy, team=team)
    only_high = approved_version(policy, team=team)
    triaged = approved_version(policy, team=team)
    scanned_before = approved_version(policy, team=team, approved_at=T0 + timedelta(days=3650))
    # When the nightly scans are uploaded (the last one before that version's approval)
    upload_scan(critical, trivy_report(("CVE-1", "torch", "CRITICAL"), ("CVE-2", "yaml", "LOW")))
    upload_scan(only_high, trivy_report(("CVE-3", "torch", "HIGH")))
    upload_scan(triaged, trivy_report(("CVE-4", "torch", "CRITICAL")))
    upload_scan(scanned_before, trivy_report(("CVE-5", "torch", "CRITICAL")))
    # and a security approver has said the triaged one does not affect its version
    services.scan_reports_read(now=T0)
    finding = triaged.evidence.get().findings.get()
    registry_services.finding_triage(
        actor=approver(team, "security"),
        finding=finding,
        status="not_affected",
        justification="vulnerable_code_not_in_execute_path",
        note="the model never loads torch.load on untrusted input",
    )

    # When the vulnerable sweep runs
    changed = run("vulnerable", T0 + timedelta(hours=1))

    # Then only the version with an untriaged critical finding is deprecated, naming the
    # report it came from
    assert changed == 1
    assert [state_of(v) for v in (critical, only_high, triaged, scanned_before)] == [
        "deprecated",
        "approved",
        "approved",
        "approved",
    ]
    event = AuditEvent.objects.get(verb="version.deprecated")
    report = critical.evidence.get()
    assert event.data["rule"] == "vulnerable"
    assert event.data["evidence"] == {
        "scan_report": report.pk,
        "sha256": report.sha256,
        "critical_findings": 1,
    }
    assert "1 open critical finding(s)" in event.data["reason"]


# --- expired and the actions -----------------------------------------------------------


def test_the_expired_rule_may_only_notify_when_the_policy_says_so():
    # Given an expired approval under a policy whose expiry action is notify
    team = TeamFactory()
    policy = team_policy(team, {"expired": {"action": "notify"}})
    version = approved_version(policy, team=team, expires_in_days=10)

    # When the expiry sweep runs after the expiry
    changed = services.versions_expire_approvals(via="system:test", now=T0 + timedelta(days=20))

    # Then the people are told and the version stays approved
    assert changed == 1
    assert state_of(version) == "approved"
    [notification] = Notification.objects.all()
    model = version.registered_model
    assert set(notification.recipients) == {
        model.owner.email,
        model.backup_owner.email,
        model.escalation_contact,
    }
    assert "approval expired" in notification.body


def test_deprecate_keeps_the_version_deprecated_and_deprecate_and_retire_retires_after_grace():
    # Given two stale versions, under policies that deprecate and deprecate-and-retire
    keep_team, retire_team = TeamFactory(), TeamFactory()
    kept = approved_version(
        team_policy(keep_team, {"stale": {"action": "deprecate", "after_days": 30}}),
        team=keep_team,
    )
    retired = approved_version(
        team_policy(
            retire_team,
            {"stale": {"action": "deprecate_and_retire", "after_days": 30}},
            grace_days=10,
        ),
        team=retire_team,
    )

    # When the stale sweep runs, and the retirement sweep well after the grace period
    assert run("stale", T0 + timedelta(days=31)) == 2
    retired_count = services.versions_retire_after_grace(
        via="system:test", now=T0 + timedelta(days=100)
    )

    # Then both were deprecated, only the deprecate-and-retire one is retired
    assert retired_count == 1
    assert (state_of(kept), state_of(retired)) == ("deprecated", "retired")
    assert Notification.objects.count() == 2


def test_a_second_run_of_every_rule_changes_nothing_and_writes_no_event(settings, tmp_path):
    # Given a version breaking each rule, all swept once
    settings.MEDIA_ROOT = tmp_path
    team = TeamFactory()
    policy = team_policy(team, {**NOTIFY_ALL, "expired": {"action": "notify"}})
    approved_version(policy, team=team, expires_in_days=5)
    gone = approved_version(policy, team=team)
    _deactivate(gone.registered_model.owner, gone.registered_model.backup_owner)
    upload_scan(approved_version(policy, team=team), trivy_report(("CVE-9", "x", "CRITICAL")))
    now = T0 + timedelta(days=200)
    first = [report.changed for report in services.lifecycle_sweep(via="system:first", now=now)]
    before = lifecycle_counts()

    # When every rule runs again
    again = [report.changed for report in services.lifecycle_sweep(via="system:again", now=now)]

    # Then the first run acted (expired, vulnerable, unowned, stale; nothing to retire),
    # the second changed nothing and wrote nothing
    assert first == [1, 1, 1, 3, 0]
    assert again == [0, 0, 0, 0, 0]
    assert lifecycle_counts() == before


def test_each_rule_task_names_itself_in_the_audit_trail():
    # Given a quiet version under a policy that notifies
    team = TeamFactory()
    version = approved_version(team_policy(team, NOTIFY_ALL), team=team)

    # When the beat's stale task runs
    result = approval_tasks.lifecycle_stale.apply(kwargs={"now": T0 + timedelta(days=181)})

    # Then the event's actor is the system, labelled with the task run
    assert result.get() == 1
    event = AuditEvent.objects.get(verb="lifecycle.rule_notified")
    assert (event.actor, event.actor_label) == (None, f"system:task {result.id}")
    assert event.object_id == str(version.pk)
    assert approval_tasks.lifecycle_stale.apply(kwargs={"now": T0 + timedelta(days=181)}).get() == 0
