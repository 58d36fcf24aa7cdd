"""The report's "Releases" and "Incidents" sections (issue 13) against a world with known
answers: team one's checkout-scoring 1.0.0 and 1.1.0 (the threshold raised), 1.1.0 in the
guarded ring, an incident on it worked to resolution; team two's release and incident
beside them, so team scoping is visible. Built through the services (release_create, the
incident services); ring entries directly, at fixed moments."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals.models import RingEntry
from approvals.services.incidents import (
    incident_mitigate,
    incident_note,
    incident_open,
    incident_resolve,
)
from audit.services import audit_log_seal
from registry.choices import Ring
from registry.models import Deployment, Release
from registry.release_diff import release_diff
from registry.services.releases import release_create
from reports.exports import report_chunks
from reports.exports.csv_export import csv_chunks
from reports.exports.json_export import json_chunks
from reports.proofs import verification_result
from reports.scope import report_scope
from reports.sections import CITED, report_sections
from tests.releases.stack import NOW, Stack, build_stack, notes, version_of
from tests.reports.scenario import global_auditor, team_auditor
from tests.reports.test_export_bytes import NOW as HEADER_NOW
from tests.reports.test_export_bytes import plain_csv, plain_json

pytestmark = pytest.mark.django_db

ENTERED = NOW + timedelta(days=2)
OPENED = NOW + timedelta(days=3)
RETROSPECTIVE = "The threshold was tuned on web traffic; mobile declines were not replayed."


@dataclass
class ReleaseWorld:
    one: Stack
    two: Stack
    first: Any
    second: Any
    other: Any
    incident: Any
    other_incident: Any
    auditor: Any
    one_auditor: Any


def submit(stack: Stack, name: str, version: str, components=None, *, now=NOW):
    return release_create(
        stack.registrant,
        team=stack.team,
        name=name,
        version=version,
        components=stack.components() if components is None else components,
        notes=notes(stack.owner),
        now=now,
    )


def raised_threshold(stack: Stack, version: str = "1.1.0"):
    return version_of(
        stack.config, version, parameters={"decline_above": 0.85, "review_above": 0.6}
    )


def worked_incident(stack: Stack, release, *, opened=OPENED):
    """An incident on ``release``: opened, a note, mitigated, resolved with factors."""
    actor = stack.registrant
    incident = incident_open(
        actor=actor,
        release=release,
        title="Declines doubled on mobile",
        severity="sev2",
        summary="Support saw it first.",
        versions=[stack.scorer],
        tags=["mobile", "declines"],
        environment="prod",
        ring=Ring.GUARDED,
        now=opened,
    )
    incident_note(actor=actor, incident=incident, text="Rolled back to 1.0.0.", now=opened)
    incident_mitigate(actor=actor, incident=incident, now=opened + timedelta(hours=1))
    incident_resolve(
        actor=actor,
        incident=incident,
        retrospective=RETROSPECTIVE,
        contributing_factors=["No mobile replay before guarded."],
        now=opened + timedelta(hours=5),
    )
    incident.refresh_from_db()
    return incident


@pytest.fixture
def world() -> ReleaseWorld:
    one, two = build_stack(), build_stack()
    first = submit(one, "checkout-scoring", "1.0.0")
    second = submit(one, "checkout-scoring", "1.1.0", one.components(config=raised_threshold(one)))
    RingEntry.objects.create(
        release=second,
        environment="prod",
        ring=Ring.GUARDED,
        entered_at=ENTERED,
        entered_by=one.owner,
    )
    other = submit(two, "checkout-scoring", "1.0.0")
    # Submission stamps the clock; pin it to NOW (as the scorecard world pins versions').
    Release.objects.filter(pk__in=[first.pk, second.pk, other.pk]).update(created_at=NOW)
    return ReleaseWorld(
        one=one,
        two=two,
        first=first,
        second=second,
        other=other,
        incident=worked_incident(one, second),
        other_incident=worked_incident(two, other),
        auditor=global_auditor(),
        one_auditor=team_auditor(one.team),
    )


def section(scope, key: str) -> list[dict[str, Any]]:
    rows = next(s for s in report_sections(scope) if s.key == key).rows()
    return [{k: v for k, v in row.items() if k != CITED} for row in rows]


def facts(rows, version: str, aspect: str) -> list[tuple]:
    return [
        (r["component"], r["item"], r["before"], r["after"])
        for r in rows
        if r["version"] == version and r["aspect"] == aspect
    ]


def test_releases_list_components_categories_rings_and_the_diff_with_the_previous(world):
    scope = report_scope(actor=world.auditor, team=world.one.team.slug)
    slug = world.one.team.slug

    rows = section(scope, "releases")

    assert {(r["team"], r["release"], r["version"]) for r in rows} == {
        (slug, "checkout-scoring", "1.0.0"),
        (slug, "checkout-scoring", "1.1.0"),
    }
    assert {r["previous"] for r in rows if r["version"] == "1.1.0"} == {"1.0.0"}
    assert facts(rows, "1.1.0", "component") == [
        (f"{entry['kind']} {slug}/{entry['name']}", "version", None, entry["version"])
        if entry.get("team")
        else (f"{entry['kind']} {entry['name']}", "version", None, entry["version"])
        for entry in world.second.manifest
    ]
    assert facts(rows, "1.1.0", "manifest") == [
        (None, "sha256", None, world.second.manifest_sha256)
    ]
    assert facts(rows, "1.1.0", "change category") == [
        (
            None,
            "threshold",
            None,
            "Config decline-threshold 1.0.0 → 1.1.0: decline_above 0.82 → 0.85.",
        )
    ]
    assert facts(rows, "1.1.0", "ring entered") == [(None, "prod/guarded", None, ENTERED)]
    assert facts(rows, "1.0.0", "ring entered") == []
    # The first release has nothing to compare with; the second changed its config only.
    assert facts(rows, "1.0.0", "diff") == [(None, "first release", None, None)]
    config = f"config {slug}/decline-threshold"
    diff = facts(rows, "1.1.0", "diff")
    assert [d for d in diff if d[1] != "unchanged"] == [(config, "changed", "1.0.0", "1.1.0")]
    assert len(diff) == 5
    assert facts(rows, "1.1.0", "diff parameters") == [(config, "decline_above", 0.82, 0.85)]
    # Metadata as registry.release_diff compares it (the two version rows' fields).
    (expected,) = [c for c in release_diff(world.second).components if c.kind == "config"]
    assert facts(rows, "1.1.0", "diff metadata") == [
        (config, change.item, change.before, change.after) for change in expected.metadata
    ]
    assert ("storage_uri", "s3://models/decline-threshold/1.1.0/") in {
        (item, after) for _, item, _, after in facts(rows, "1.1.0", "diff metadata")
    }


def test_the_sections_diff_is_release_diff_component_by_component(world):
    scope = report_scope(actor=world.auditor, team=world.one.team.slug)

    rows = [r for r in section(scope, "releases") if r["version"] == "1.1.0"]

    expected = release_diff(world.second)
    statuses = [(r["item"], r["before"], r["after"]) for r in rows if r["aspect"] == "diff"]
    assert statuses == [
        (component.status, component.version_before, component.version_after)
        for component in expected.components
    ]


def test_incidents_show_severity_state_release_versions_timeline_factors_and_tags(world):
    scope = report_scope(actor=world.auditor, team=world.one.team.slug)

    rows = section(scope, "incidents")

    assert {
        (r["team"], r["incident"], r["title"], r["severity"], r["state"], r["release"])
        for r in rows
    } == {
        (
            world.one.team.slug,
            f"INC-{world.incident.pk}",
            "Declines doubled on mobile",
            "sev2",
            "resolved",
            "checkout-scoring 1.1.0",
        )
    }
    assert {r["versions"] for r in rows} == {"fraud-scorer 3.0.0"}
    registrant = world.one.registrant.username
    assert [(r["aspect"], r["at"], r["by"], r["detail"]) for r in rows] == [
        ("opened", OPENED, registrant, "Opened by a person, in prod/guarded"),
        ("summary", None, None, "Support saw it first."),
        (
            "timeline",
            OPENED,
            registrant,
            "Opened (opened by a person), sev2: Declines doubled on mobile",
        ),
        ("timeline", OPENED, registrant, "Rolled back to 1.0.0."),
        ("timeline", OPENED + timedelta(hours=1), registrant, "Mitigated."),
        ("timeline", OPENED + timedelta(hours=5), registrant, "Resolved with a retrospective."),
        ("mitigated", OPENED + timedelta(hours=1), None, None),
        ("resolved", OPENED + timedelta(hours=5), None, None),
        ("contributing factor", None, None, "No mobile replay before guarded."),
        ("retrospective", None, None, RETROSPECTIVE),
        ("tag", None, None, "declines"),
        ("tag", None, None, "mobile"),
    ]


def test_a_team_auditor_sees_no_release_or_incident_of_another_team(world):
    everything = report_scope(actor=world.auditor)
    one_only = report_scope(actor=world.one_auditor)
    both = {world.one.team.slug, world.two.team.slug}

    assert {r["team"] for r in section(everything, "releases")} == both
    assert {r["team"] for r in section(everything, "incidents")} == both
    assert {r["team"] for r in section(one_only, "releases")} == {world.one.team.slug}
    assert {r["team"] for r in section(one_only, "incidents")} == {world.one.team.slug}
    assert f"INC-{world.other_incident.pk}" not in {
        r["incident"] for r in section(one_only, "incidents")
    }


def test_a_model_scope_keeps_the_releases_pinning_it_and_the_incidents_naming_it(world):
    sdk = f"{world.one.team.slug}/{world.one.sdk.name}"
    scope = report_scope(actor=world.auditor, model=sdk)

    releases = {r["version"] for r in section(scope, "releases")}
    incidents = {r["incident"] for r in section(scope, "incidents")}

    # Both releases pin the SDK; the incident names the scorer but is on 1.1.0.
    assert releases == {"1.0.0", "1.1.0"}
    assert incidents == {f"INC-{world.incident.pk}"}
    other_model = report_scope(actor=world.auditor, model=f"{world.two.team.slug}/fraud-scorer")
    assert {r["team"] for r in section(other_model, "releases")} == {world.two.team.slug}


def test_the_window_keeps_releases_entering_a_ring_in_it_and_incidents_open_in_it(world):
    after_entry = report_scope(
        actor=world.auditor,
        team=world.one.team.slug,
        start=ENTERED - timedelta(hours=1),
        until=ENTERED + timedelta(hours=1),
    )
    after_resolution = report_scope(
        actor=world.auditor, team=world.one.team.slug, start=OPENED + timedelta(days=1)
    )

    # Both were submitted at NOW (before the window); only 1.1.0 entered a ring in it.
    assert {r["version"] for r in section(after_entry, "releases")} == {"1.1.0"}
    # The incident opened after the first window and was resolved before the second.
    assert section(after_entry, "incidents") == []
    assert section(after_resolution, "incidents") == []
    assert section(after_resolution, "releases") == []


def csv_sections(data: bytes) -> dict[str, list[list[str]]]:
    sections: dict[str, list[list[str]]] = {}
    current = None
    for line in csv.reader(io.StringIO(data.decode())):
        if line and line[0] == "section":
            current = sections.setdefault(line[1], [])
        elif current is not None and line:
            current.append(line)
    return sections


def test_every_export_format_carries_both_sections(world):
    scope = report_scope(actor=world.one_auditor, team=world.one.team.slug)

    as_csv = csv_sections(b"".join(report_chunks(scope, "csv")))
    as_json = json.loads(b"".join(report_chunks(scope, "json")))
    as_pdf = b"".join(report_chunks(scope, "pdf"))

    assert as_csv["releases"][0][:3] == ["team", "release", "version"]
    assert len(as_csv["releases"]) - 1 == len(section(scope, "releases"))
    assert len(as_csv["incidents"]) - 1 == len(section(scope, "incidents"))
    keys = [s["key"] for s in as_json["report"]["sections"]]
    assert keys[-3:] == ["releases", "incidents", "history"]
    json_sections = {s["key"]: s for s in as_json["report"]["sections"]}
    assert len(json_sections["incidents"]["rows"]) == len(section(scope, "incidents")) > 5
    assert as_pdf.startswith(b"%PDF-")


def more_of_both(stack: Stack, count: int, *, prefix: str) -> None:
    """``count`` more stacks of two releases (the second raises the threshold), the second
    in a ring with an incident worked to resolution (for query counts at two sizes)."""
    for n in range(count):
        name = f"{prefix}-{n}"
        submit(stack, name, "1.0.0")
        raised = raised_threshold(stack, f"9.{prefix[-1]}.{n}")
        later = submit(stack, name, "1.1.0", stack.components(config=raised))
        RingEntry.objects.create(
            release=later,
            environment="prod",
            ring=Ring.GUARDED,
            entered_at=ENTERED,
            entered_by=stack.owner,
        )
        worked_incident(stack, later)


def section_queries(scope, key: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        rows = section(scope, key)
    return len(queries), len(rows)


def test_both_sections_make_the_same_number_of_queries_at_two_sizes(world):
    scope = report_scope(actor=world.one_auditor, team=world.one.team.slug)
    counts = []
    for count, prefix in ((1, "small-1"), (6, "large-2")):
        more_of_both(world.one, count, prefix=prefix)
        counts.append((section_queries(scope, "releases"), section_queries(scope, "incidents")))

    (small_releases, small_incidents), (large_releases, large_incidents) = counts
    assert small_releases[0] == large_releases[0] == 5
    assert small_incidents[0] == large_incidents[0] == 4
    assert large_releases[1] > small_releases[1] and large_incidents[1] > small_incidents[1]


@pytest.mark.parametrize("where", ["team", "everything"])
def test_the_streamed_csv_and_json_are_byte_for_byte_the_plain_reading(world, where):
    # Given the report of team one, or of everything, holding both sections' rows
    # (numbers, lists, a trigger's dict and moments among the cells)
    scope = report_scope(
        actor=world.auditor, **({"team": world.one.team.slug} if where == "team" else {})
    )

    # When the streaming writers write it
    streamed_csv = "".join(csv_chunks(scope, now=HEADER_NOW))
    streamed_json = "".join(json_chunks(scope, with_proofs=False, now=HEADER_NOW))

    # Then each equals the cell-by-cell reading of every section's rows
    assert streamed_csv == plain_csv(scope)
    assert streamed_json == plain_json(scope)
    assert "decline_above" in streamed_csv and RETROSPECTIVE in streamed_json


def test_a_customer_scope_keeps_the_releases_pinning_what_served_the_customer(world):
    Deployment.objects.create(
        version=world.one.scorer,
        environment="prod",
        ring=Ring.GUARDED,
        customer_scope="acme",
        started_at=ENTERED,
        recorded_by=world.one.owner,
    )
    scope = report_scope(actor=world.auditor, customer="acme")

    releases = {(r["team"], r["version"]) for r in section(scope, "releases")}
    incidents = {r["incident"] for r in section(scope, "incidents")}

    # Both of team one's releases pin the scorer that served acme; team two's pins its own.
    assert releases == {(world.one.team.slug, "1.0.0"), (world.one.team.slug, "1.1.0")}
    assert incidents == {f"INC-{world.incident.pk}"}


def test_the_whole_csv_export_makes_the_same_number_of_queries_at_two_sizes(world):
    scope = report_scope(actor=world.one_auditor, team=world.one.team.slug)
    counts = []
    for count, prefix in ((1, "small-1"), (6, "large-2")):
        more_of_both(world.one, count, prefix=prefix)
        with CaptureQueriesContext(connection) as queries:
            exported = b"".join(report_chunks(scope, "csv"))
        counts.append(len(queries))

    assert counts[0] == counts[1]
    assert b"large-2-5" in exported


def test_the_history_section_cites_the_listed_releases_and_incidents_history(world):
    scope = report_scope(actor=world.one_auditor, team=world.one.team.slug)

    rows = list(next(s for s in report_sections(scope) if s.key == "history").rows())

    releases = {r["object_id"] for r in rows if r["table"] == "registry_historicalrelease"}
    incidents = [r for r in rows if r["table"] == "approvals_historicalincident"]
    assert releases == {world.first.pk, world.second.pk}
    assert {r["object_id"] for r in incidents} == {world.incident.pk}
    # Opened, mitigated, resolved: each a history row, each cited for the proofs.
    assert [r["state"] for r in incidents][-2:] == ["mitigated", "resolved"]
    assert all(r[CITED] == (r["table"], str(r["history_id"])) for r in rows)


def test_a_sealed_json_export_with_releases_and_incidents_verifies_offline(
    world, tmp_path, settings, django_capture_on_commit_callbacks
):
    # Given a sealed log holding the releases' and incidents' history rows
    settings.GOVBOARD_AUDIT_HEADS_URL = f"file://{tmp_path / 'heads'}"
    settings.GOVBOARD_AUDIT_WITNESS_URL = ""
    with django_capture_on_commit_callbacks(execute=True):
        audit_log_seal(now=OPENED + timedelta(days=1))
    scope = report_scope(actor=world.one_auditor, team=world.one.team.slug)

    # When the JSON export is written with its proofs
    document = json.loads(b"".join(report_chunks(scope, "json")))

    # Then the verifier accepts it, and the incident's history rows are among those proven
    verified, summary = verification_result(document)
    assert verified, summary
    proven = {(entry["table"], entry["pk"]) for entry in document["proofs"]["entries"]}
    history = next(s for s in document["report"]["sections"] if s["key"] == "history")
    incident_rows = [r for r in history["rows"] if r[0] == "approvals_historicalincident"]
    assert incident_rows and all(
        (row[-1]["table"], row[-1]["pk"]) in proven for row in incident_rows
    )
