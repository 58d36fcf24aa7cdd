"""Post-release monitoring: CI or the monitoring system uploads a periodic report for a
release serving in a ring; the rollback triggers of the policy that let it into that ring
are evaluated on it; a breach opens an incident and tells the rollback owner.

``monitoring_report_upload`` is one transaction under the release's row lock:

- ``Verb.REGISTER`` on the release's team (a token needs the ``evidence`` scope: a
  monitoring report is evidence about a deployed release, like a nightly scan);
- the payload is validated strictly (``report_fields``); the release must have entered
  the ring in the environment (a ``RingEntry``), else 409;
- the same window again with the same body returns the stored report (``created`` False;
  the API answers 200); another body for a stored window is a 409;
- the triggers are the ring entry's request's policy snapshot's (``rollback_triggers``),
  or, for an entry without a request, those of ``policy_for_release``;
- breaches: when the release already has an open breach incident for this environment
  and ring, the breach is added to its timeline (one incident per outage, not one per
  report); otherwise one incident is opened for the report (severity: the most severe
  breached trigger; blocks promotion when any breached trigger does; versions: the
  release's model components) and the rollback owner is notified by email (outbox) and
  webhook (``incident.opened``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from approvals.choices import OPEN_INCIDENT_STATES, IncidentSource
from approvals.models import Incident, MonitoringReport, RingEntry
from approvals.release_policy import policy_for_release
from approvals.rollback_triggers import evaluate_triggers, is_number, most_severe
from approvals.services.incidents import incident_create, incident_label, timeline_add
from approvals.services.notifications import notify
from approvals.services.rings import release_anchor
from approvals.signing import canonical_json, sha256_hex
from audit.services import record
from audit.verbs import AuditVerb
from core.errors import Conflict, InvalidInput
from core.moments import parse_aware
from core.permissions import Verb, require
from registry.choices import ReleaseComponentKind, Ring
from registry.models import ModelVersion, Release

REQUIRED = ("window_start", "window_end", "request_volume", "latency_p95_ms", "retry_rate")
OPTIONAL = ("disagreement_rate", "segments", "drift_scores")
MODEL_KINDS = (
    ReleaseComponentKind.MODEL,
    ReleaseComponentKind.ADAPTER,
    ReleaseComponentKind.PROMPT,
    ReleaseComponentKind.CONFIG,
    ReleaseComponentKind.SDK,
)


@dataclass(frozen=True)
class Upload:
    """What an upload did: the report, whether it was stored now, and its incident."""

    report: MonitoringReport
    created: bool
    incident: Incident | None = None


def _datetime(payload: dict, name: str, errors: dict) -> datetime | None:
    value = payload.get(name)
    parsed = parse_aware(value)
    if parsed is None:
        errors[name] = ["an ISO 8601 date-time with a time zone"]
        return None
    return parsed


def report_fields(payload: Any, *, now: datetime) -> dict[str, Any]:
    """The report's fields from an upload body, or ``InvalidInput`` naming every problem."""
    if not isinstance(payload, dict):
        raise InvalidInput("A monitoring report is a JSON object.")
    errors: dict[str, list[str]] = {}
    for name in sorted(set(payload) - set(REQUIRED) - set(OPTIONAL)):
        errors[name] = ["unknown field"]
    for name in REQUIRED:
        if name not in payload:
            errors[name] = ["required"]
    start = _datetime(payload, "window_start", errors) if "window_start" in payload else None
    end = _datetime(payload, "window_end", errors) if "window_end" in payload else None
    if start and end:
        if start >= end:
            errors["window_start"] = ["must be before window_end"]
        if end > now:
            errors["window_end"] = ["must not be in the future"]
    volume = payload.get("request_volume")
    if "request_volume" in payload and (
        not isinstance(volume, int) or isinstance(volume, bool) or volume < 0
    ):
        errors["request_volume"] = ["a whole number ≥ 0"]
    latency = payload.get("latency_p95_ms")
    if "latency_p95_ms" in payload and (not is_number(latency) or latency < 0):
        errors["latency_p95_ms"] = ["a number ≥ 0"]
    for name in ("retry_rate", "disagreement_rate"):
        value = payload.get(name)
        optional_and_absent = name == "disagreement_rate" and value is None
        if (
            name in payload
            and not optional_and_absent
            and not (is_number(value) and 0 <= value <= 1)
        ):
            errors[name] = ["a rate between 0 and 1"]
    segments = payload.get("segments", {})
    if not isinstance(segments, dict):
        errors["segments"] = ['an object: segment → {"quality": x, "protected": bool}']
    else:
        for name, segment in segments.items():
            problem = _segment_problem(segment)
            if problem:
                errors.setdefault("segments", []).append(f"{name}: {problem}")
    drift = payload.get("drift_scores", {})
    if not isinstance(drift, dict) or not all(is_number(v) and v >= 0 for v in drift.values()):
        errors["drift_scores"] = ["an object: feature → a drift score ≥ 0"]
    if errors:
        raise InvalidInput("The monitoring report is not valid.", errors=errors)
    return {
        "window_start": start,
        "window_end": end,
        "request_volume": volume,
        "latency_p95_ms": float(latency),
        "retry_rate": float(payload["retry_rate"]),
        "disagreement_rate": payload.get("disagreement_rate"),
        "segments": segments,
        "drift_scores": drift,
    }


def _segment_problem(segment: Any) -> str | None:
    if not isinstance(segment, dict) or set(segment) - {"quality", "protected", "baseline"}:
        return 'must be {"quality": x, "protected": bool, "baseline"?: x}'
    if not is_number(segment.get("quality")):
        return "quality must be a number"
    if not isinstance(segment.get("protected"), bool):
        return "protected must be true or false"
    if "baseline" in segment and not is_number(segment["baseline"]):
        return "baseline must be a number"
    return None


def body_digest(payload: Any) -> str:
    """sha256 of the canonical JSON of the body: the same report, however formatted."""
    return sha256_hex(canonical_json(payload))


def triggers_for(entry: RingEntry) -> list[dict]:
    """The rollback triggers that judge reports of ``entry``'s ring: those of the policy
    snapshot the ring request was judged under, else the release's policy now."""
    if entry.request_id:
        return list(entry.request.policy_snapshot.get("rollback_triggers") or [])
    _policy, snapshot = policy_for_release(entry.release, ring=entry.ring)
    return list(snapshot.get("rollback_triggers") or [])


def _model_versions(release: Release) -> list[ModelVersion]:
    return list(
        ModelVersion.objects.filter(
            release_components__release=release, release_components__kind__in=MODEL_KINDS
        )
        .select_related("registered_model")
        .order_by("pk")
    )


def _describe(breach: dict) -> str:
    where = breach.get("segment") or breach.get("feature")
    at = f" ({where})" if where else ""
    return (
        f"{breach['trigger']}: {breach['metric']}{at} {breach['observed']} "
        f"breached {breach['bound']} {breach['limit']}"
    )


@transaction.atomic
def monitoring_report_upload(
    *,
    actor: Any,
    release: Release | int,
    environment: str,
    ring: str,
    payload: Any,
    now: datetime | None = None,
) -> Upload:
    """Store one monitoring report and act on its breaches (see the module docstring).

    Refused with nothing written: no permission (403); a bad body (400); a ring the
    release has not entered in ``environment`` (409); another body for a window already
    reported (409).
    """
    now = now or timezone.now()
    pk = release.pk if isinstance(release, Release) else release
    release = (
        Release.objects.select_for_update(of=("self",))
        .select_related("team", "rollback_owner")
        .get(pk=pk)
    )
    require(actor, Verb.REGISTER, release)
    if ring not in Ring.values:
        raise InvalidInput(
            f"Unknown ring {ring!r} (one of {', '.join(Ring.values)}).", errors={"ring": [ring]}
        )
    fields = report_fields(payload, now=now)
    digest = body_digest(payload)
    entry = (
        RingEntry.objects.select_related("request", "release__team")
        .filter(release=release, environment=environment, ring=ring)
        .first()
    )
    if entry is None:
        raise Conflict(
            f"Release {release} has not entered {ring} in {environment!r}; "
            "a monitoring report needs the ring entered first."
        )
    window = {
        "release": release,
        "environment": environment,
        "ring": ring,
        "window_start": fields["window_start"],
        "window_end": fields["window_end"],
    }
    existing = MonitoringReport.objects.filter(**window).first()
    if existing is not None:
        if existing.body_sha256 != digest:
            raise Conflict(
                "A different report was already uploaded for this window "
                f"(sha256 {existing.body_sha256}); reports are append-only."
            )
        return Upload(existing, created=False, incident=existing.incidents.first())
    previous = (
        MonitoringReport.objects.filter(
            release=release,
            environment=environment,
            ring=ring,
            window_end__lte=fields["window_start"],
        )
        .order_by("-window_end", "-id")
        .first()
    )
    triggers = triggers_for(entry)
    breaches = evaluate_triggers(triggers, fields, previous)
    report = MonitoringReport(
        **window,
        **{k: v for k, v in fields.items() if k not in window},
        body_sha256=digest,
        breaches=breaches,
        uploaded_by=actor,
        uploaded_at=now,
    )
    report.full_clean()
    report.save()
    record(
        actor=actor,
        verb=AuditVerb.MONITORING_REPORT_UPLOADED,
        target=report,
        team_id=release.team_id,
        data={
            "before": None,
            "after": {
                "release_id": release.pk,
                "environment": environment,
                "ring": ring,
                "window": [
                    fields["window_start"].isoformat(),
                    fields["window_end"].isoformat(),
                ],
                "body_sha256": digest,
                "breaches": len(breaches),
                "triggers": [t.get("name") for t in triggers],
            },
        },
    )
    incident = _act_on_breaches(actor, release, report, breaches, now) if breaches else None
    return Upload(report, created=True, incident=incident)


def _act_on_breaches(
    actor: Any, release: Release, report: MonitoringReport, breaches: list[dict], now: datetime
) -> Incident:
    ongoing = (
        Incident.objects.select_for_update()
        .filter(
            release=release,
            environment=report.environment,
            ring=report.ring,
            source=IncidentSource.BREACH,
            state__in=OPEN_INCIDENT_STATES,
        )
        .order_by("-opened_at", "-id")
        .first()
    )
    lines = "; ".join(_describe(b) for b in breaches)
    if ongoing is not None:
        timeline_add(
            ongoing,
            author=actor,
            at=now,
            text=f"Still breached in monitoring report {report.pk}: {lines}",
        )
        record(
            actor=actor,
            verb=AuditVerb.INCIDENT_NOTE_ADDED,
            target=ongoing,
            team_id=ongoing.team_id,
            data={
                "monitoring_report_id": report.pk,
                "breaches": breaches,
                # Like a person's note (``incident_note``): the state it was added in.
                "before": {"state": ongoing.state},
                "after": {"state": ongoing.state, "note": f"monitoring report {report.pk}"},
            },
        )
        return ongoing
    severity = most_severe(breaches)
    incident = incident_create(
        actor=actor,
        team=release.team,
        release=release,
        title=f"{release} breached {', '.join(dict.fromkeys(b['trigger'] for b in breaches))}"[
            :200
        ],
        severity=severity,
        summary=f"Monitoring report {report.pk} ({report.environment}/{report.ring}): {lines}",
        source=IncidentSource.BREACH,
        versions=_model_versions(release),
        blocks_promotion=any(b["blocks_promotion"] for b in breaches),
        now=now,
        environment=report.environment,
        ring=report.ring,
        monitoring_report=report,
        trigger={"breaches": breaches},
    )
    _notify_rollback_owner(actor, release, incident, lines, now)
    return incident


def _notify_rollback_owner(
    actor: Any, release: Release, incident: Incident, lines: str, now: datetime
) -> None:
    owner = release.rollback_owner
    address = owner.email if owner.is_active and owner.email else ""
    event = record(
        actor=actor,
        verb=AuditVerb.INCIDENT_ROLLBACK_OWNER_NOTIFIED,
        target=incident,
        team_id=incident.team_id,
        data={"rollback_owner": owner.get_username(), "email": address or None},
    )
    timeline_add(
        incident,
        author=actor,
        at=now,
        text=f"Rollback owner {owner.get_username()} notified"
        + ("." if address else " (no address on file: nothing sent)."),
    )
    anchor = release_anchor(release)
    if anchor is None:
        return
    target = release.rollback_target or release.rollback_feature_flag or "(none named)"
    notify(
        event=event,
        version=anchor,
        subject=f"[govboard] {incident_label(incident)} {incident.severity}: {incident.title}",
        body=(
            f"A monitoring report of release {release} breached its rollback triggers:\n"
            f"{lines}\n\nYou are its rollback owner. Rollback target: {target}.\n"
            f"Promotion blocked: {'yes' if incident.blocks_promotion else 'no'}."
        ),
        audience=(),
        also_to=[address] if address else [],
        key=f"incident-opened:{incident.pk}",
        webhooks=False,  # incident.opened went to the webhooks when it was recorded
    )
