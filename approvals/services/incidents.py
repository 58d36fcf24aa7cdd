"""Incidents: opened by a breached rollback trigger (``approvals.services.monitoring``) or
by a person, worked to resolution on a timeline, closed with a blameless retrospective.

Each function is one transaction: lock the incident, check ``Verb.MANAGE_INCIDENTS`` on
its team, change it, add a timeline entry, audit the change (before/after) in the same
transaction. An open or mitigated incident with ``blocks_promotion`` blocks the release's
next ring (the ring checks read it); resolving it unblocks. Every refusal changes nothing.

State: ``open → mitigated → resolved`` (``open → resolved`` too). A resolved incident is
closed: it is never reopened (open a new one that names it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.utils import timezone

from approvals.choices import OPEN_INCIDENT_STATES, IncidentSeverity, IncidentSource, IncidentState
from approvals.models import Incident, IncidentTag, IncidentTimelineEntry
from approvals.services.rings import release_anchor
from approvals.services.webhooks import webhooks_enqueue
from audit.services import record
from audit.verbs import AuditVerb
from core.errors import Conflict, IllegalTransition, InvalidInput
from core.permissions import Verb, require
from registry.models import ModelVersion, Release, Team

TITLE_MAX = 200


def incident_label(incident: Incident) -> str:
    return f"INC-{incident.pk}"


def _lock(incident: Incident | int) -> Incident:
    pk = incident.pk if isinstance(incident, Incident) else incident
    return Incident.objects.select_for_update(of=("self",)).select_related("team").get(pk=pk)


def _clean_tags(tags: Iterable[str]) -> list[str]:
    names = []
    for tag in tags:
        name = str(tag).strip().lower()
        try:
            validate_slug(name)
        except ValidationError:
            raise InvalidInput(
                f"Tag {tag!r} is not a slug (letters, digits, - and _).", errors={"tags": [tag]}
            ) from None
        if len(name) > 64:
            raise InvalidInput("A tag has at most 64 characters.", errors={"tags": [tag]})
        names.append(name)
    return sorted(set(names))


def _clean_factors(factors: Any) -> list[str]:
    if not isinstance(factors, list | tuple) or not all(isinstance(f, str) for f in factors):
        raise InvalidInput(
            "Contributing factors are a list of sentences.",
            errors={"contributing_factors": ["must be a list of strings"]},
        )
    return [f.strip() for f in factors if f.strip()]


def _set_tags(incident: Incident, names: list[str]) -> None:
    tags = [IncidentTag.objects.get_or_create(name=name)[0] for name in names]
    incident.tags.set(tags)


def timeline_add(incident: Incident, *, author: Any, text: str, at: datetime) -> None:
    """One line of the incident's timeline (inside the caller's transaction)."""
    IncidentTimelineEntry.objects.create(incident=incident, author=author, text=text, at=at)


def _snapshot(incident: Incident, tags: list[str] | None = None) -> dict[str, Any]:
    return {
        "title": incident.title,
        "summary": incident.summary,
        "severity": incident.severity,
        "state": incident.state,
        "blocks_promotion": incident.blocks_promotion,
        "contributing_factors": list(incident.contributing_factors),
        "tags": tags if tags is not None else sorted(t.name for t in incident.tags.all()),
    }


def incident_create(
    *,
    actor: Any,
    team: Team,
    release: Release | None,
    title: str,
    severity: str,
    summary: str,
    source: str,
    versions: Iterable[ModelVersion] = (),
    tags: Iterable[str] = (),
    blocks_promotion: bool,
    now: datetime,
    environment: str = "",
    ring: str = "",
    monitoring_report: Any = None,
    trigger: Any = None,
) -> Incident:
    """Write an incident, its first timeline entry and ``incident.opened`` (the caller
    holds the transaction and has checked permission). Shared by ``incident_open`` and
    the monitoring upload."""
    title = (title or "").strip()
    if not title or len(title) > TITLE_MAX:
        raise InvalidInput(
            f"An incident needs a title of 1 to {TITLE_MAX} characters.",
            errors={"title": ["required"]},
        )
    if severity not in IncidentSeverity.values:
        raise InvalidInput(
            f"Severity must be one of {', '.join(IncidentSeverity.values)}.",
            errors={"severity": [severity]},
        )
    names = _clean_tags(tags)
    versions = list(versions)
    for version in versions:
        if version.registered_model.team_id != team.pk and (
            release is None or not release.components.filter(model_version=version).exists()
        ):
            raise InvalidInput(
                f"Version {version.pk} is neither the team's nor a component of the release.",
                errors={"versions": [version.pk]},
            )
    incident = Incident.objects.create(
        team=team,
        release=release,
        title=title,
        summary=summary or "",
        severity=severity,
        source=source,
        environment=environment,
        ring=ring,
        monitoring_report=monitoring_report,
        trigger=trigger if trigger is not None else {},
        blocks_promotion=blocks_promotion,
        opened_by=actor,
        opened_at=now,
    )
    incident.versions.set(versions)
    _set_tags(incident, names)
    timeline_add(
        incident,
        author=actor,
        at=now,
        text=f"Opened ({incident.get_source_display().lower()}), {severity}: {title}",
    )
    event = record(
        actor=actor,
        verb=AuditVerb.INCIDENT_OPENED,
        target=incident,
        team_id=team.pk,
        data={
            "before": None,
            "after": {**_snapshot(incident, names), "source": source},
            "release_id": release.pk if release else None,
            "version_ids": [v.pk for v in versions],
            "monitoring_report_id": monitoring_report.pk if monitoring_report else None,
        },
    )
    # Webhooks announce a version: the release's anchor, else the first version named.
    anchor = release_anchor(release) if release is not None else None
    anchor = anchor or (versions[0] if versions else None)
    if anchor is not None:
        webhooks_enqueue(event=event, version=anchor)
    return incident


@transaction.atomic
def incident_open(
    *,
    actor: Any,
    team: Team | None = None,
    release: Release | None = None,
    title: str,
    severity: str,
    summary: str = "",
    versions: Iterable[ModelVersion] = (),
    tags: Iterable[str] = (),
    blocks_promotion: bool = True,
    environment: str = "",
    ring: str = "",
    now: datetime | None = None,
) -> Incident:
    """A person (or a team's system account) opens an incident on ``release`` or, with no
    release, on ``team``. ``Verb.MANAGE_INCIDENTS`` on the team. Versions must be the
    team's or the release's components."""
    now = now or timezone.now()
    if release is not None:
        release = Release.objects.select_related("team").get(pk=release.pk)
        if team is not None and team.pk != release.team_id:
            raise InvalidInput("The release belongs to another team.", errors={"team": [team.slug]})
        team = release.team
    if team is None:
        raise InvalidInput("Name the release or the team.", errors={"release": ["required"]})
    require(actor, Verb.MANAGE_INCIDENTS, team)
    return incident_create(
        actor=actor,
        team=team,
        release=release,
        title=title,
        severity=severity,
        summary=summary,
        source=IncidentSource.PERSON,
        versions=versions,
        tags=tags,
        blocks_promotion=bool(blocks_promotion),
        environment=environment,
        ring=ring,
        now=now,
    )


_UNSET: Any = object()


@transaction.atomic
def incident_update(
    *,
    actor: Any,
    incident: Incident | int,
    severity: str = _UNSET,
    tags: Iterable[str] = _UNSET,
    contributing_factors: list[str] = _UNSET,
    title: str = _UNSET,
    summary: str = _UNSET,
    now: datetime | None = None,
) -> Incident:
    """Change what is known of an incident (any state but resolved), audited with the
    changed fields' before and after, and a timeline line saying what changed."""
    now = now or timezone.now()
    incident = _lock(incident)
    require(actor, Verb.MANAGE_INCIDENTS, incident.team)
    if incident.state == IncidentState.RESOLVED:
        raise Conflict(f"{incident_label(incident)} is resolved; open a new incident.")
    before = _snapshot(incident)
    if severity is not _UNSET:
        if severity not in IncidentSeverity.values:
            raise InvalidInput(
                f"Severity must be one of {', '.join(IncidentSeverity.values)}.",
                errors={"severity": [severity]},
            )
        incident.severity = severity
    if title is not _UNSET:
        title = (title or "").strip()
        if not title or len(title) > TITLE_MAX:
            raise InvalidInput("An incident needs a title.", errors={"title": ["required"]})
        incident.title = title
    if summary is not _UNSET:
        incident.summary = summary or ""
    if contributing_factors is not _UNSET:
        incident.contributing_factors = _clean_factors(contributing_factors)
    names = before["tags"] if tags is _UNSET else _clean_tags(tags)
    after = _snapshot(incident, names)
    changed = [key for key in after if after[key] != before[key]]
    if not changed:
        return incident
    incident.save()
    if tags is not _UNSET:
        _set_tags(incident, names)
    timeline_add(incident, author=actor, at=now, text=f"Updated: {', '.join(changed)}")
    record(
        actor=actor,
        verb=AuditVerb.INCIDENT_UPDATED,
        target=incident,
        team_id=incident.team_id,
        data={
            "before": {key: before[key] for key in changed},
            "after": {key: after[key] for key in changed},
        },
    )
    return incident


@transaction.atomic
def incident_note(
    *, actor: Any, incident: Incident | int, text: str, now: datetime | None = None
) -> Incident:
    """Add a note to the timeline (any state: a resolved incident takes follow-ups)."""
    now = now or timezone.now()
    incident = _lock(incident)
    require(actor, Verb.MANAGE_INCIDENTS, incident.team)
    text = (text or "").strip()
    if not text:
        raise InvalidInput("A note needs text.", errors={"text": ["required"]})
    timeline_add(incident, author=actor, at=now, text=text)
    record(
        actor=actor,
        verb=AuditVerb.INCIDENT_NOTE_ADDED,
        target=incident,
        team_id=incident.team_id,
        # A note changes no field: before and after name the state it was added in (every
        # event carries both, AUD-6), after also the note.
        data={
            "text": text,
            "before": {"state": incident.state},
            "after": {"state": incident.state, "note": text},
        },
    )
    return incident


@transaction.atomic
def incident_mitigate(
    *, actor: Any, incident: Incident | int, text: str = "", now: datetime | None = None
) -> Incident:
    """open → mitigated: the harm is contained (rolled back, flag off); still blocks
    promotion until resolved."""
    now = now or timezone.now()
    incident = _lock(incident)
    require(actor, Verb.MANAGE_INCIDENTS, incident.team)
    if incident.state != IncidentState.OPEN:
        raise IllegalTransition(
            f"{incident_label(incident)} is {incident.state}; only an open incident is mitigated."
        )
    incident.state = IncidentState.MITIGATED
    incident.mitigated_at = now
    incident.save()
    timeline_add(incident, author=actor, at=now, text=f"Mitigated. {text}".strip())
    record(
        actor=actor,
        verb=AuditVerb.INCIDENT_MITIGATED,
        target=incident,
        team_id=incident.team_id,
        data={"before": {"state": IncidentState.OPEN}, "after": {"state": incident.state}},
    )
    return incident


@transaction.atomic
def incident_resolve(
    *,
    actor: Any,
    incident: Incident | int,
    retrospective: str,
    contributing_factors: list[str],
    now: datetime | None = None,
) -> Incident:
    """open or mitigated → resolved, with a blameless retrospective (not blank) and at
    least one contributing factor. Unblocks promotion."""
    now = now or timezone.now()
    incident = _lock(incident)
    require(actor, Verb.MANAGE_INCIDENTS, incident.team)
    if incident.state not in OPEN_INCIDENT_STATES:
        raise IllegalTransition(f"{incident_label(incident)} is resolved already.")
    retrospective = (retrospective or "").strip()
    factors = _clean_factors(contributing_factors)
    errors = {}
    if not retrospective:
        errors["retrospective"] = ["a blameless retrospective is required"]
    if not factors:
        errors["contributing_factors"] = ["name at least one contributing factor"]
    if errors:
        raise InvalidInput(
            "Resolving needs a blameless retrospective and at least one contributing factor.",
            errors=errors,
        )
    before = incident.state
    incident.state = IncidentState.RESOLVED
    incident.resolved_at = now
    incident.retrospective = retrospective
    incident.contributing_factors = factors
    incident.save()
    timeline_add(incident, author=actor, at=now, text="Resolved with a retrospective.")
    record(
        actor=actor,
        verb=AuditVerb.INCIDENT_RESOLVED,
        target=incident,
        team_id=incident.team_id,
        data={
            "before": {"state": before},
            "after": {"state": incident.state, "contributing_factors": factors},
        },
    )
    return incident
