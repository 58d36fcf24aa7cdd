"""Real Celery processes for the lifecycle jobs' tests (JOB-1, JOB-2): workers and beats
pointed at the test database and a Redis of the test's own, a scenario of approved
versions that break the rules at the present moment (the processes judge by the real
clock: beat passes no ``now``), and the ledger that says, per version, whether the
sweep's writes are all there, none there, or half there."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from approvals.models import (
    LifecycleRuleFiring,
    Notification,
    PromotionRequest,
    ScanReportReading,
)
from audit.models import AuditEvent
from registry.models import ModelVersion, VulnerabilityFinding
from tests.approvals.lifecycle_scenario import (
    approved_version,
    team_policy,
    trivy_report,
    upload_scan,
)
from tests.celery_worker import ROOT, WORKER_COMMAND, worker_env
from tests.registry.factories import TeamFactory

#: The audit verbs a rule's firing writes (deprecate and notify).
FIRING_VERBS = ("version.deprecated", "lifecycle.rule_notified")


def _env(broker_url: str, **extra: str) -> dict:
    return worker_env(
        broker_url=broker_url,
        database=connection.settings_dict,
        GOVBOARD_SIGNING_KEY=settings.GOVBOARD_SIGNING_KEY,
        GOVBOARD_MEDIA_ROOT=str(settings.MEDIA_ROOT),
        **extra,
    )


def start_worker(broker_url: str, name: str, log: Path, **extra: str) -> subprocess.Popen:
    """A solo worker logging each task it runs (and its result) to ``log``: a file, not
    a pipe, so a busy worker never blocks on a full pipe nobody reads."""
    command = [*WORKER_COMMAND[:-1], "--loglevel=INFO", f"--hostname={name}@%h"]
    with log.open("ab") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=_env(broker_url, **extra), stdout=out, stderr=out
        )


def start_beat(broker_url: str, name: str, workdir: Path) -> subprocess.Popen:
    """A beat on django-celery-beat's database scheduler, re-reading its due entries at
    least every second."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "govboard",
        "beat",
        "--scheduler=django_celery_beat.schedulers:DatabaseScheduler",
        "--max-interval=1",
        "--loglevel=INFO",
        f"--pidfile={workdir / f'{name}.pid'}",
        f"--schedule={workdir / f'{name}.schedule'}",
    ]
    with (workdir / f"{name}.log").open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=_env(broker_url), stdout=out, stderr=out)


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM (a worker finishes its task first), SIGKILL if it does not stop."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


_SUCCEEDED = re.compile(r"Task (approvals\.tasks\.\w+)\[[^\]]+\] succeeded in [\d.]+s: (\d+)")


def task_results(*logs: Path) -> dict[str, list[int]]:
    """What each finished lifecycle task returned (how many versions it acted on), from
    the workers' logs."""
    results: dict[str, list[int]] = {}
    for log in logs:
        for task, changed in _SUCCEEDED.findall(log.read_text(errors="replace")):
            results.setdefault(task, []).append(int(changed))
    return results


# --- the scenario ------------------------------------------------------------------------


@dataclass
class Scenario:
    """Versions with a known answer: which ones the rules deprecate, which they only
    notify, and near misses nothing may touch."""

    deprecated: list[int] = field(default_factory=list)
    notified: list[int] = field(default_factory=list)
    untouched: list[int] = field(default_factory=list)

    @property
    def all(self) -> list[int]:
        return [*self.deprecated, *self.notified, *self.untouched]


def _quiet_since(version_ids: list[int], days: int) -> None:
    """Make versions (and their approving requests) look untouched for ``days``: the
    stale rule reads these moments and the factories stamp the present."""
    moment = timezone.now() - timedelta(days=days)
    ModelVersion.objects.filter(pk__in=version_ids).update(created_at=moment, approved_at=moment)
    PromotionRequest.objects.filter(version_id__in=version_ids).update(created_at=moment)


def stale_scenario(*, deprecate: int, notify: int) -> Scenario:
    """Versions quiet for 40 days under stale-after-30 policies, one that deprecates and
    one that notifies (their ids interleaved, so a sweep alternates), and a near miss
    quiet for 10 days under each."""
    scenario = Scenario()
    teams = {action: TeamFactory() for action in ("deprecate", "notify")}
    policies = {
        action: team_policy(team, {"stale": {"action": action, "after_days": 30}})
        for action, team in teams.items()
    }
    wanted = {"deprecate": deprecate, "notify": notify}
    for index in range(max(deprecate, notify)):
        for action, bucket in (("deprecate", scenario.deprecated), ("notify", scenario.notified)):
            if index < wanted[action]:
                bucket.append(approved_version(policies[action], team=teams[action]).pk)
    _quiet_since([*scenario.deprecated, *scenario.notified], days=40)
    for action in ("deprecate", "notify"):
        recent = approved_version(policies[action], team=teams[action])
        _quiet_since([recent.pk], days=10)
        scenario.untouched.append(recent.pk)
    return scenario


def every_rule_scenario(*, per_rule: int) -> Scenario:
    """``stale_scenario`` plus an expired rule (approvals that ran out 35 days ago, under
    the default deprecate-and-retire) and a vulnerable rule (a critical finding uploaded
    after approval, deprecated), each with a near miss (an approval still valid; a
    report with only a HIGH finding)."""
    scenario = stale_scenario(deprecate=per_rule, notify=per_rule)
    expired_team, vulnerable_team = TeamFactory(), TeamFactory()
    expired_policy = team_policy(expired_team, {})
    vulnerable_policy = team_policy(vulnerable_team, {"vulnerable": {"action": "deprecate"}})
    long_ago = timezone.now() - timedelta(days=400)
    for _ in range(per_rule):
        expired = approved_version(expired_policy, team=expired_team, approved_at=long_ago)
        scenario.deprecated.append(expired.pk)
        vulnerable = approved_version(vulnerable_policy, team=vulnerable_team)
        upload_scan(vulnerable, trivy_report(("CVE-1", "torch", "CRITICAL")))
        scenario.deprecated.append(vulnerable.pk)
    scenario.untouched.append(approved_version(expired_policy, team=expired_team).pk)
    only_high = approved_version(vulnerable_policy, team=vulnerable_team)
    upload_scan(only_high, trivy_report(("CVE-2", "torch", "HIGH")))
    scenario.untouched.append(only_high.pk)
    return scenario


# --- the ledger ----------------------------------------------------------------------------

#: What a version looks like with all of a firing's writes, or none of them:
#: (state, history rows moving it to deprecated, firing events, firings, notifications).
WHOLE = {
    "deprecated": ("deprecated", 1, 1, 1, 1),
    "notified": ("approved", 0, 1, 1, 1),
    "untouched": ("approved", 0, 0, 0, 0),
}


def ledger(version_ids: list[int]) -> dict[int, tuple[str, int, int, int, int]]:
    """Per version, every write a rule's firing makes, counted: its state, the history
    rows that recorded it deprecated, the audit events of the firing, the firing rows,
    and the notification outbox rows keyed by those firings."""
    states = dict(ModelVersion.objects.filter(pk__in=version_ids).values_list("pk", "state"))
    history = Counter(
        ModelVersion.history.filter(id__in=version_ids, state="deprecated").values_list(
            "id", flat=True
        )
    )
    events = Counter(
        int(object_id)
        for object_id in AuditEvent.objects.filter(
            object_type="registry.modelversion",
            object_id__in=[str(pk) for pk in version_ids],
            verb__in=FIRING_VERBS,
        ).values_list("object_id", flat=True)
    )
    firings = dict(
        LifecycleRuleFiring.objects.filter(version_id__in=version_ids).values_list(
            "pk", "version_id"
        )
    )
    notified = Counter(
        firings[int(key.split(":")[1])]
        for key in Notification.objects.filter(
            key__in=[f"lifecycle:{pk}" for pk in firings]
        ).values_list("key", flat=True)
    )
    fired = Counter(firings.values())
    return {
        pk: (states[pk], history[pk], events[pk], fired[pk], notified[pk]) for pk in version_ids
    }


def half_changed(scenario: Scenario) -> dict[int, tuple]:
    """Versions whose writes are neither all there nor none there (or there twice), by
    what the version's rule does: a deprecating rule's version is untouched or wholly
    deprecated, a notifying rule's untouched or wholly notified."""
    rows = ledger(scenario.all)
    allowed = {
        "deprecated": {WHOLE["untouched"], WHOLE["deprecated"]},
        "notified": {WHOLE["untouched"], WHOLE["notified"]},
        "untouched": {WHOLE["untouched"]},
    }
    return {
        pk: rows[pk]
        for bucket, shapes in allowed.items()
        for pk in getattr(scenario, bucket)
        if rows[pk] not in shapes
    }


def half_read_reports() -> dict[int, tuple[int | None, int]]:
    """Scan reports the vulnerable sweep half read: a reading whose findings were not all
    stored, or findings stored without their reading (evidence id: (the reading's
    count, the findings stored))."""
    readings = dict(ScanReportReading.objects.values_list("evidence_id", "findings"))
    stored = Counter(VulnerabilityFinding.objects.values_list("evidence_id", flat=True))
    return {
        evidence_id: (readings.get(evidence_id), stored[evidence_id])
        for evidence_id in {*readings, *stored}
        if readings.get(evidence_id) != stored[evidence_id]
    }
