"""Section (g): lifecycle transitions with reasons and actors — the audit events of the
scope's versions and promotion requests (old spellings read through ``AuditVerb.of``) —
and section (i): the row-level history (django-simple-history) of the same versions,
requests and deployments, and of the releases and incidents the report lists. Both cite
their rows, so the JSON export proves each one."""

from __future__ import annotations

from collections.abc import Iterator

from approvals.models import Incident, PromotionRequest
from audit.models import AuditEvent
from audit.verbs import LEGACY_SPELLINGS, AuditVerb
from core.permissions import Verb
from registry.models import Deployment, ModelVersion, Release
from reports.scope import ReportScope
from reports.sections.base import (
    AUDIT_EVENT_TABLE,
    CHUNK_SIZE,
    InstantText,
    Record,
    Section,
    instant_of,
)

#: The verbs of a version's or a request's life, in every spelling the log holds.
LIFECYCLE_PREFIXES = ("version.", "promotion.")
LIFECYCLE_SPELLINGS = tuple(
    text
    for text in (*AuditVerb, *LEGACY_SPELLINGS)
    if AuditVerb.of(text).value.startswith(LIFECYCLE_PREFIXES)
)
EVENT_COLUMNS = ("event", "occurred_at", "object", "verb", "actor", "before", "after", "reason")


def transitions_section(scope: ReportScope) -> Section:
    def records() -> Iterator[Record]:
        version_type = ModelVersion._meta.label_lower
        request_type = PromotionRequest._meta.label_lower
        events = AuditEvent.objects.visible_to(scope.actor, Verb.EXPORT).filter(
            scope.in_window("occurred_at"), verb__in=LIFECYCLE_SPELLINGS
        )
        events = events.filter(
            object_type=version_type, object_id__in=scope.version_ids_as_text()
        ) | events.filter(object_type=request_type, object_id__in=scope.request_ids_as_text())
        values = events.order_by("id").values_list(
            "id",
            InstantText("occurred_at"),
            "object_type",
            "object_id",
            "verb",
            "actor_label",
            "data",
        )
        for pk, occurred_at, object_type, object_id, verb, actor, data in values.iterator(
            chunk_size=CHUNK_SIZE
        ):
            yield (
                pk,
                instant_of(occurred_at),
                f"{object_type}:{object_id}",
                AuditVerb.of(verb).value,
                actor,
                data.get("before"),
                data.get("after"),
                _reason(data),
                (AUDIT_EVENT_TABLE, str(pk)),
            )

    return Section(
        "transitions",
        "Lifecycle transitions, with reasons and actors",
        EVENT_COLUMNS,
        records,
        window_field="occurred_at",
        cites=True,
    )


def _reason(data: dict) -> str:
    for key in ("reason", "justification", "expedite_reason"):
        if data.get(key):
            return str(data[key])
    if isinstance(data.get("reasons"), list):
        return "; ".join(str(reason) for reason in data["reasons"])
    return ""


HISTORY_COLUMNS = ("table", "history_id", "object_id", "history_date", "type", "user", "state")
_HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}


def history_section(scope: ReportScope) -> Section:
    def records() -> Iterator[Record]:
        sources = (
            (ModelVersion, scope.versions().values("pk"), "state"),
            (PromotionRequest, scope.requests().values("pk"), "state"),
            (
                Deployment,
                Deployment.objects.filter(version__in=scope.versions().values("pk")).values("pk"),
                "environment",
            ),
            # The releases and incidents sections' rows (issue 13), so the JSON export
            # proves their history as it proves the versions' (every history table is
            # sealed by the transparency log).
            (Release, scope.releases_in_window().values("pk"), "state"),
            (Incident, scope.incidents().values("pk"), "state"),
        )
        for model, ids, shown in sources:
            history = model.history.model
            table = history._meta.db_table
            values = (
                history.objects.filter(scope.in_window("history_date"), id__in=ids)
                .order_by("history_id")
                .values_list(
                    "history_id",
                    "id",
                    InstantText("history_date"),
                    "history_type",
                    "history_user__username",
                    shown,
                )
            )
            types = _HISTORY_TYPES
            for history_id, pk, when, kind, user, value in values.iterator(chunk_size=CHUNK_SIZE):
                yield (
                    table,
                    history_id,
                    pk,
                    instant_of(when),
                    types.get(kind, kind),
                    user or "",
                    value,
                    (table, str(history_id)),
                )

    return Section(
        "history",
        "Row history of the versions, requests, deployments, releases and incidents",
        HISTORY_COLUMNS,
        records,
        window_field="history_date",
        cites=True,
    )
