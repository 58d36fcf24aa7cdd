"""JOB-1 and JOB-2 with real processes: Celery workers and beats (not threads, not eager
tasks) on the test database and a Redis of the test's own.

JOB-1: two workers and two beats run every lifecycle sweep at once, each beat sending
each rule's task every second: every version is changed once, with one audit event, one
notification and one email (a real SMTP sink). JOB-2: a worker is SIGKILLed mid-sweep
at least 20 times at varied points: after every kill no version is half-changed (its
state, its history row, its audit event, its firing and its notification all there or
none), and the next run finishes the work.

Slow (each kill restarts a worker; about 3 minutes together): ``make test-jobs`` runs them
(marker ``jobs``, which the default run deselects in pyproject.toml's addopts).
"""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest
import redis
from django.conf import settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from approvals.choices import DeliveryState
from approvals.models import LifecycleRuleFiring, Notification
from approvals.tasks import expire_approvals, lifecycle_stale, lifecycle_vulnerable
from tests.approvals.lifecycle_processes import (
    WHOLE,
    every_rule_scenario,
    half_changed,
    half_read_reports,
    ledger,
    start_beat,
    start_worker,
    stop,
    task_results,
)
from tests.govboard.own_redis import own_broker
from tests.smtp_sink import start_sink

pytestmark = [
    pytest.mark.jobs,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not settings.CELERY_BROKER_URL.startswith("redis")
        or settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL): workers are processes",
    ),
]

#: JOB-2 kills each of these rules' sweeps in turn.
RULE_TASKS = {
    "stale": lifecycle_stale,
    "expired": expire_approvals,
    "vulnerable": lifecycle_vulnerable,
}
#: The sweeps the beats send in JOB-1, each every second.
SWEEPS = {
    "test-expire-approvals": "approvals.tasks.expire_approvals",
    "test-lifecycle-stale": "approvals.tasks.lifecycle_stale",
    "test-lifecycle-vulnerable": "approvals.tasks.lifecycle_vulnerable",
    "test-relay-outbox": "approvals.tasks.relay_outbox",
}
KILLS = 20


@pytest.fixture
def broker():
    with own_broker() as server:
        yield server


@pytest.fixture
def processes():
    """Every worker and beat a test starts; none outlives it."""
    started: list = []
    yield started
    for process in started:
        stop(process, timeout=10)


@pytest.fixture
def smtp_sink():
    sink, server = start_sink()
    yield sink
    server.shutdown()


def _wait(condition, *, seconds: float, what: str, logs=()) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    said = "\n".join(log.read_text(errors="replace")[-3000:] for log in logs)
    pytest.fail(f"timed out waiting for {what}; the processes said:\n{said}")


def _sends(beat_log, task: str) -> int:
    return beat_log.read_text(errors="replace").count(f"({task})")


def test_two_workers_and_two_beats_change_each_version_once(broker, processes, smtp_sink, tmp_path):
    # Given versions breaking the stale (deprecate and notify), expired and vulnerable
    # rules, with near misses, and beat schedules sending each sweep every second
    scenario = every_rule_scenario(per_rule=6)
    PeriodicTask.objects.all().delete()
    every_second, _ = IntervalSchedule.objects.get_or_create(
        every=1, period=IntervalSchedule.SECONDS
    )
    for name, task in SWEEPS.items():
        PeriodicTask.objects.create(name=name, task=task, interval=every_second)
    mail = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": smtp_sink.host,
        "EMAIL_PORT": str(smtp_sink.port),
    }
    worker_logs = [tmp_path / f"worker-{n}.log" for n in (1, 2)]
    beat_logs = [tmp_path / f"beat-{n}.log" for n in (1, 2)]
    logs = [*worker_logs, *beat_logs]

    # When two workers and two beats run together
    for n, log in enumerate(worker_logs, start=1):
        processes.append(start_worker(broker.url, f"worker-{n}", log, **mail))
    for n in (1, 2):
        processes.append(start_beat(broker.url, f"beat-{n}", tmp_path))
    acted_on = len(scenario.deprecated) + len(scenario.notified)

    def settled() -> bool:
        rows = ledger(scenario.all)
        return (
            all(rows[pk] == WHOLE["deprecated"] for pk in scenario.deprecated)
            and all(rows[pk] == WHOLE["notified"] for pk in scenario.notified)
            and not Notification.objects.exclude(state=DeliveryState.DELIVERED).exists()
            and len(smtp_sink.received) >= acted_on
        )

    _wait(settled, seconds=180, what="every version acted on and mailed", logs=logs)
    # ...and keep racing: each beat sends every sweep three more times with nothing to do
    more = {(log, task): _sends(log, task) + 3 for log in beat_logs for task in SWEEPS.values()}
    _wait(
        lambda: all(_sends(log, task) >= n for (log, task), n in more.items()),
        seconds=60,
        what="three more rounds from each beat",
        logs=logs,
    )
    for beat in processes[2:]:
        stop(beat)
    queue = redis.Redis.from_url(broker.url)
    _wait(lambda: queue.llen("celery") == 0, seconds=120, what="the queue drained", logs=logs)
    for worker in processes[:2]:
        stop(worker, timeout=60)

    # Then each version was changed once, exactly as its rule says, and near misses not
    rows = ledger(scenario.all)
    assert {rows[pk] for pk in scenario.deprecated} == {WHOLE["deprecated"]}
    assert {rows[pk] for pk in scenario.notified} == {WHOLE["notified"]}
    assert {rows[pk] for pk in scenario.untouched} == {WHOLE["untouched"]}
    # And the sweeps' own counts agree: together they acted on each version once
    results = task_results(*worker_logs)
    rule_tasks = [task for task in SWEEPS.values() if task != "approvals.tasks.relay_outbox"]
    assert sum(sum(results.get(task, [])) for task in rule_tasks) == acted_on
    runs = sum(len(results.get(task, [])) for task in rule_tasks)
    assert all(len(results.get(task, [])) >= 6 for task in rule_tasks), results
    # And one outbox row and one email per firing: no duplicate notification or mail
    keys = set(Notification.objects.values_list("key", flat=True))
    assert len(keys) == Notification.objects.count() == acted_on
    mailed = Counter(item.message["X-Govboard-Notification"] for item in smtp_sink.received)
    assert set(mailed) == keys
    duplicates = sum(n - 1 for n in mailed.values())
    assert duplicates == 0
    sends = sum(_sends(log, task) for log in beat_logs for task in rule_tasks)
    print(
        f"\nJOB-1: {len(scenario.all)} versions ({len(scenario.deprecated)} deprecated, "
        f"{len(scenario.notified)} notified, {len(scenario.untouched)} near misses), "
        f"2 workers + 2 beats, {sends} rule sweeps sent, {runs} run; "
        f"{acted_on} firings, {acted_on} events, {len(mailed)} emails, duplicates {duplicates}"
    )


def test_a_worker_killed_mid_sweep_leaves_no_version_half_changed_and_the_next_run_finishes(
    broker, processes, tmp_path
):
    # Given 320 versions the rules act on: 160 quiet ones (stale: half deprecated, half
    # notified), 80 whose approval ran out and 80 with a critical finding uploaded after
    # approval (deprecated), and near misses
    scenario = every_rule_scenario(per_rule=80)
    total = len(scenario.deprecated) + len(scenario.notified)
    due = {"stale": 160, "expired": 80, "vulnerable": 80}
    rng = random.Random(12)  # varied kill points, the same on every run
    kills, half, half_read = [], {}, {}
    firings = LifecycleRuleFiring.objects.filter(version_id__in=scenario.all)

    # When, again and again, a worker starts a rule's sweep and is SIGKILLed: sometimes as
    # it receives the task (reading candidates, or the scan reports), mostly after a
    # random pause once it has acted on a version (inside a version's transaction, or
    # between two); the rules take turns while each has work left
    round_ = 0
    while len(kills) < KILLS:
        assert round_ < KILLS + 5, f"the sweeps kept finishing before the kill: {kills}"
        left = [rule for rule in due if firings.filter(rule=rule).count() < due[rule]]
        rule = left[round_ % len(left)]
        task = RULE_TASKS[rule]
        log = tmp_path / f"worker-{round_}.log"
        before = firings.filter(rule=rule).count()
        # Chunks of one version (a chunk is one transaction; a chunk of 200 ends the
        # sweep in one commit, before any kill): the kill lands between two chunks or
        # inside one.
        worker = start_worker(broker.url, f"killed-{round_}", log, GOVBOARD_SWEEP_CHUNK="1")
        processes.append(worker)
        task.delay()
        if round_ % 4 == 0:
            point = "on receipt"
            _wait(
                lambda log=log, name=task.name: f"{name}[" in log.read_text(errors="replace"),
                seconds=120,
                what="the worker to receive the sweep",
                logs=[log],
            )
        else:
            point = "mid-chunk"
            _wait(
                lambda rule=rule, before=before: firings.filter(rule=rule).count() > before,
                seconds=120,
                what=f"a {rule} firing",
                logs=[log],
            )
        time.sleep(rng.uniform(0, 0.3))
        worker.kill()
        worker.wait(timeout=10)
        round_ += 1
        # Then after each kill no version is half-changed and no report half read
        half.update(half_changed(scenario))
        half_read.update(half_read_reports())
        if task.name not in task_results(log):  # killed before the sweep ended
            kills.append((rule, point, firings.count()))

    # When the worker restarts and the next run of each sweep goes to its end
    done_before_final = firings.count()
    log = tmp_path / "worker-final.log"
    worker = start_worker(broker.url, "final", log)
    processes.append(worker)
    for task in RULE_TASKS.values():
        task.delay()
    _wait(
        lambda: all(task.name in task_results(log) for task in RULE_TASKS.values()),
        seconds=240,
        what="the final sweeps",
        logs=[log],
    )
    stop(worker)

    # Then no version was ever half-changed nor a report half read, and every version
    # is wholly done, once
    assert (half, half_read) == ({}, {})
    rows = ledger(scenario.all)
    assert {rows[pk] for pk in scenario.deprecated} == {WHOLE["deprecated"]}
    assert {rows[pk] for pk in scenario.notified} == {WHOLE["notified"]}
    assert {rows[pk] for pk in scenario.untouched} == {WHOLE["untouched"]}
    final = task_results(log)
    assert sum(sum(final[task.name]) for task in RULE_TASKS.values()) == (total - done_before_final)
    print(
        f"\nJOB-2: {len(scenario.all)} versions, {len(kills)} SIGKILLs mid-sweep "
        f"(stale {sum(r == 'stale' for r, _, _ in kills)}, expired "
        f"{sum(r == 'expired' for r, _, _ in kills)}, vulnerable "
        f"{sum(r == 'vulnerable' for r, _, _ in kills)}; "
        f"{sum(p == 'on receipt' for _, p, _ in kills)} on receipt, "
        f"{sum(p == 'mid-chunk' for _, p, _ in kills)} mid-chunk), firings after each kill "
        f"{[n for _, _, n in kills]}; half-changed 0, half-read 0; the next run acted on "
        f"the remaining {total - done_before_final} of {total}"
    )
