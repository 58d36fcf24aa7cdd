"""The admin's report pages and manage.py audit_report: known answers, team scoping, and a
fixed number of queries whatever the data's size."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.registry.factories import UserFactory
from tests.reports.scenario import LAUNCH, SWITCH, more_deployments

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def served(client: Client, at) -> list[tuple[str, str]]:
    response = client.get("/admin/reports/serving/", {"customer": "acme", "at": at.isoformat()})
    assert response.status_code == 200
    return sorted(
        (d.version.registered_model.name, d.version.version)
        for d in response.context["deployments"]
    )


def test_which_version_served_acme_at_a_moment(scenario):
    client = client_for(scenario.auditor)

    assert served(client, LAUNCH + timedelta(days=1)) == [
        ("beta-bot", "9.0.0"),
        ("support-bot", "1.0.0"),
        ("thresholds", "2.0.0"),
    ]
    # At the switch itself 1.1.0 serves (it started then) and 1.0.0 no longer does.
    assert served(client, SWITCH) == [
        ("beta-bot", "9.0.0"),
        ("support-bot", "1.1.0"),
        ("thresholds", "2.0.0"),
    ]
    assert served(client, LAUNCH - timedelta(seconds=1)) == []


def test_a_team_auditor_sees_only_their_teams_deployments(scenario):
    assert served(client_for(scenario.alpha_auditor), SWITCH) == [
        ("support-bot", "1.1.0"),
        ("thresholds", "2.0.0"),
    ]


def test_people_who_see_no_team_get_neither_page_nor_the_index_links(scenario):
    stranger = client_for(UserFactory())

    assert stranger.get("/admin/reports/serving/").status_code == 403
    assert stranger.get("/admin/reports/report/").status_code == 403
    assert b"reports-module" not in stranger.get("/admin/").content
    assert b"reports-module" in client_for(scenario.auditor).get("/admin/").content


def test_the_buttons_open_the_report_form_for_the_model_and_for_the_log(scenario):
    client = client_for(scenario.auditor)

    model_page = client.get(f"/admin/registry/registeredmodel/{scenario.model.pk}/change/")
    log_page = client.get("/admin/audit/auditevent/")

    assert b"/admin/reports/report/?model=alpha/support-bot" in model_page.content
    assert b'href="/admin/reports/report/"' in log_page.content
    form = client.get("/admin/reports/report/", {"model": "alpha/support-bot"})
    assert form.status_code == 200 and form.context["form"]["model"].value() == "alpha/support-bot"


def test_the_form_streams_a_csv_of_the_scope(scenario):
    response = client_for(scenario.alpha_auditor).get(
        "/admin/reports/report/", {"customer": "acme", "format": "csv"}
    )

    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"].startswith('attachment; filename="govboard-report-acme')
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert ["section", "serving", "Which version served which customer, and when"] in lines
    assert not any("beta-bot" in line for line in lines)


def test_the_form_refuses_a_model_the_auditor_may_not_export_and_exports_nothing(scenario):
    response = client_for(scenario.alpha_auditor).get(
        "/admin/reports/report/", {"model": "beta/beta-bot", "format": "json"}
    )

    assert response.status_code == 200
    (error,) = response.context["form"].non_field_errors()
    assert error.startswith("No model 'beta/beta-bot' that you may export")


def page_queries(client: Client, url: str, params: dict) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params).status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/admin/reports/serving/", {"customer": "acme", "at": SWITCH.isoformat()}),
        ("/admin/reports/report/", {"model": "alpha/support-bot"}),
        ("/admin/", {}),
    ],
)
def test_each_page_makes_the_same_number_of_queries_at_two_sizes(scenario, url, params):
    client = client_for(scenario.auditor)
    more_deployments(scenario, 2, major=3)
    small = page_queries(client, url, params)

    more_deployments(scenario, 20, major=4)
    large = page_queries(client, url, params)

    assert small == large


def test_the_command_writes_the_report_to_a_file(scenario, tmp_path):
    target = tmp_path / "report.csv"

    call_command(
        "audit_report",
        "--actor",
        "alpha-auditor",
        "--customer",
        "acme",
        "--from",
        SWITCH.isoformat(),
        "--format",
        "csv",
        "--output",
        str(target),
    )

    lines = list(csv.reader(io.StringIO(target.read_text())))
    serving = lines[
        lines.index(next(line for line in lines if line[:2] == ["section", "serving"])) :
    ]
    assert [line[6] for line in serving[2:4]] == ["2.0.0", "1.1.0"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--actor", "nobody-here"], "No active user"),
        (["--actor", "alpha-auditor", "--model", "beta/beta-bot"], "may export"),
        (["--actor", "alpha-auditor", "--from", "yesterday"], "ISO 8601"),
    ],
)
def test_the_command_refuses_clearly_and_writes_nothing(scenario, tmp_path, arguments, message):
    target = tmp_path / "report.json"

    with pytest.raises(CommandError, match=message):
        call_command("audit_report", *arguments, "--output", str(target))

    assert not target.exists()
