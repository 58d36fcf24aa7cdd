"""``govboard release monitor`` uploads a monitoring report against a live server."""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone

import govboard_cli as cli
from approvals.models import Incident, MonitoringReport
from tests.releases.rings_helpers import stack_release
from tests.releases.test_monitoring import TRIGGERS, entered


def report_file(tmp_path, **overrides):
    end = timezone.now() - timedelta(hours=1)
    body = {
        "window_start": (end - timedelta(hours=1)).isoformat(),
        "window_end": end.isoformat(),
        "request_volume": 5000,
        "latency_p95_ms": 140.0,
        "retry_rate": 0.01,
    } | overrides
    path = tmp_path / "report.json"
    path.write_text(json.dumps(body))
    return str(path)


def guarded(release):
    """The release entered the guarded ring through a request whose policy holds a p95
    latency trigger (the monitoring tests' triggers)."""
    entered(release, environment="prod", ring="guarded", triggers=TRIGGERS)


def test_release_monitor_uploads_a_report_and_names_the_incident_a_breach_opened(
    ci, run, seeded_policies, tmp_path
):
    release = stack_release(team=ci.team)
    guarded(release)

    code, body, err = run(
        "release", "monitor", str(release.pk), "--url", ci.url,
        "--environment", "prod", "--ring", "guarded",
        "--file", report_file(tmp_path, latency_p95_ms=2000.0),
    )  # fmt: skip

    assert code == cli.EXIT_OK, err
    assert MonitoringReport.objects.get(pk=body["id"]).release_id == release.pk
    assert body["incident"] == Incident.objects.get(release=release).pk
    assert f"INC-{body['incident']} opened" in err


def test_a_ring_not_entered_or_a_bad_file_is_an_error_exit_and_stores_nothing(
    ci, run, seeded_policies, tmp_path
):
    release = stack_release(team=ci.team)
    code, _, err = run(
        "release", "monitor", str(release.pk), "--url", ci.url,
        "--environment", "prod", "--ring", "guarded", "--file", report_file(tmp_path),
    )  # fmt: skip
    assert code == cli.EXIT_CONFLICT, err

    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    code, _, err = run(
        "release", "monitor", str(release.pk), "--url", ci.url,
        "--environment", "prod", "--ring", "guarded", "--file", str(bad),
    )  # fmt: skip
    assert code == cli.EXIT_USAGE
    assert "Cannot read monitoring report file" in err
    assert MonitoringReport.objects.filter(release=release).count() == 0
