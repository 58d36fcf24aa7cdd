"""Section "Incidents": each incident of the scope open at some moment of the window, with
its severity, state, release and versions, then one row per fact — opened (how, where),
its summary and the breached trigger, every timeline line, mitigated and resolved, the
contributing factors, the blameless retrospective and its tags.

Four queries whatever the number of incidents: the incidents (with team, release and
opener), the versions they name and their tags (both small, grouped by incident), and the
timeline, read in the incidents' own order and merged as it streams.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from itertools import groupby
from operator import itemgetter

from approvals.choices import IncidentSource
from approvals.models import Incident, IncidentTimelineEntry
from reports.scope import ReportScope
from reports.sections.base import CHUNK_SIZE, Record, Section

COLUMNS = (
    "team",
    "incident",
    "title",
    "severity",
    "state",
    "release",
    "versions",
    "aspect",
    "at",
    "by",
    "detail",
)
#: The incidents' order, and their timeline's in the same order (merged as they stream).
INCIDENT_ORDER = ("team__slug", "opened_at", "id")
TIMELINE_ORDER = ("incident__team__slug", "incident__opened_at", "incident_id", "at", "id")
SOURCES = dict(IncidentSource.choices)


def incidents_section(scope: ReportScope) -> Section:
    def records() -> Iterator[Record]:
        incidents = scope.incidents()
        ids = incidents.values("pk")
        versions: dict[int, list[str]] = defaultdict(list)
        for incident_id, name, version in (
            Incident.versions.through.objects.filter(incident_id__in=ids)
            .order_by("incident_id", "modelversion__registered_model__name", "modelversion_id")
            .values_list(
                "incident_id", "modelversion__registered_model__name", "modelversion__version"
            )
        ):
            versions[incident_id].append(f"{name} {version}")
        tags: dict[int, list[str]] = defaultdict(list)
        for incident_id, name in (
            Incident.tags.through.objects.filter(incident_id__in=ids)
            .order_by("incident_id", "incidenttag__name")
            .values_list("incident_id", "incidenttag__name")
        ):
            tags[incident_id].append(name)
        timeline = groupby(
            IncidentTimelineEntry.objects.filter(incident__in=ids)
            .order_by(*TIMELINE_ORDER)
            .values_list("incident_id", "at", "author__username", "text")
            .iterator(chunk_size=CHUNK_SIZE),
            key=itemgetter(0),
        )
        pending = next(timeline, None)
        listed = (
            incidents.select_related("team", "release", "opened_by")
            .order_by(*INCIDENT_ORDER)
            .iterator(chunk_size=CHUNK_SIZE)
        )
        for incident in listed:
            lines: list[tuple] = []
            if pending is not None and pending[0] == incident.pk:
                lines = list(pending[1])
                pending = next(timeline, None)
            head = (
                incident.team.slug,
                f"INC-{incident.pk}",
                incident.title,
                incident.severity,
                incident.state,
                str(incident.release) if incident.release else None,
                ", ".join(versions.get(incident.pk, ())),
            )
            yield from _facts(head, incident, lines, tags.get(incident.pk, ()))

    return Section(
        "incidents",
        "Incidents: severity, state, timeline, contributing factors, retrospective",
        COLUMNS,
        records,
        window_field="incidents open at some moment of the window",
    )


def _facts(head: tuple, incident: Incident, lines: list[tuple], tags: list[str]) -> Iterator:
    where = "/".join(part for part in (incident.environment, incident.ring) if part)
    opened = SOURCES.get(incident.source, incident.source) + (f", in {where}" if where else "")
    yield (*head, "opened", incident.opened_at, incident.opened_by.username, opened)
    if incident.summary:
        yield (*head, "summary", None, None, incident.summary)
    if incident.trigger:
        yield (*head, "trigger", None, None, incident.trigger)
    for _, at, author, text in lines:
        yield (*head, "timeline", at, author, text)
    if incident.mitigated_at is not None:
        yield (*head, "mitigated", incident.mitigated_at, None, None)
    if incident.resolved_at is not None:
        yield (*head, "resolved", incident.resolved_at, None, None)
    for factor in incident.contributing_factors:
        yield (*head, "contributing factor", None, None, factor)
    if incident.retrospective:
        yield (*head, "retrospective", None, None, incident.retrospective)
    for name in tags:
        yield (*head, "tag", None, None, name)
