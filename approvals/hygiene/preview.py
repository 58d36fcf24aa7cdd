"""The dry run: what each lifecycle rule and the retirement sweep would change now, and
why, without changing anything. ``manage.py lifecycle_sweep --dry-run`` and the admin
page ``admin:lifecycle_preview`` read it; both judge with the sweeps' own functions
(``verdict_for``, ``retirement_verdict``) on the sweeps' own candidate sets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from approvals.hygiene.retiring import ESCALATE, retirement_candidates, retirement_verdict
from approvals.hygiene.rules import LifecycleAction, LifecycleRule
from approvals.hygiene.verdicts import (
    RULE_ORDER,
    Policies,
    rule_candidates,
    unread_scan_reports,
    verdict_for,
)
from registry.choices import VersionState
from registry.models import Deployment, ModelVersion

#: Rows a page shows per section; the rest is "more" (the command lists all).
PREVIEW_LIMIT = 100


@dataclass(frozen=True)
class PreviewRow:
    """One change a sweep would make: to which version, what, and why."""

    version: ModelVersion
    rule: str
    action: str
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class PreviewSection:
    name: str
    rows: list[PreviewRow]
    more: bool = False  # more candidates than the page reads


@dataclass
class LifecyclePreview:
    now: datetime
    sections: list[PreviewSection]
    unread_reports: int
    unread_more: bool
    retired_serving: list[Deployment]
    retired_serving_more: bool


def _scoped(queryset: QuerySet, user: Any) -> QuerySet:
    return queryset if user is None else queryset.visible_to(user)


def rule_rows(
    rule: LifecycleRule,
    versions: list[ModelVersion],
    *,
    now: datetime,
    policies: Policies,
    deprecated: set[int],
) -> list[PreviewRow]:
    """The rows of ``rule_candidates`` the rule acts on, with its verdict. ``deprecated``
    holds the versions an earlier rule of the same run deprecates (the real run would
    find them no longer approved); the ones this rule deprecates are added to it."""
    rows = []
    for version in versions:
        if version.pk in deprecated:
            continue
        verdict = verdict_for(rule, version, now=now, policies=policies)
        if verdict is None:
            continue
        if verdict.action != LifecycleAction.NOTIFY:
            deprecated.add(version.pk)
        rows.append(
            PreviewRow(version, str(rule), str(verdict.action), verdict.reason, verdict.evidence)
        )
    return rows


def retirement_rows(versions: list[ModelVersion], *, now: datetime) -> list[PreviewRow]:
    rows = []
    for version in versions:
        verdict = retirement_verdict(version, now=now)
        if verdict is None:
            continue
        reason = verdict.reason
        if verdict.action == ESCALATE:
            reason += (
                f", but {version.serving_count} deployment(s) still serve it: "
                "not retired; the owners, escalation contact and managers are told"
            )
        rows.append(PreviewRow(version, "retirement", verdict.action, reason))
    return rows


def lifecycle_preview(
    *, now: datetime, user: Any = None, limit: int = PREVIEW_LIMIT
) -> LifecyclePreview:
    """Up to ``limit`` candidates per section (what ``user`` may see; everything when
    None), in a fixed number of queries whatever the data size."""
    policies = Policies.load()
    sections, deprecated = [], set()
    for rule in RULE_ORDER:
        found = list(
            _scoped(rule_candidates(rule, now=now, policies=policies), user).order_by("id")[
                : limit + 1
            ]
        )
        rows = rule_rows(rule, found[:limit], now=now, policies=policies, deprecated=deprecated)
        sections.append(PreviewSection(str(rule), rows, more=len(found) > limit))
    deprecated = list(_scoped(retirement_candidates(), user).order_by("id")[: limit + 1])
    sections.append(
        PreviewSection(
            "retirement", retirement_rows(deprecated[:limit], now=now), len(deprecated) > limit
        )
    )
    unread = _scoped(unread_scan_reports(), user).values_list("id", flat=True)
    unread_ids = list(unread[: limit + 1])
    serving = list(
        _scoped(Deployment.objects.all(), user)
        .filter(version__state=VersionState.RETIRED, ended_at__isnull=True)
        .select_related("version__registered_model__team")
        .order_by("id")[: limit + 1]
    )
    return LifecyclePreview(
        now=now,
        sections=sections,
        unread_reports=min(len(unread_ids), limit),
        unread_more=len(unread_ids) > limit,
        retired_serving=serving[:limit],
        retired_serving_more=len(serving) > limit,
    )


def all_rows(*, now: datetime, chunk_size: int = 500) -> Iterator[PreviewRow]:
    """Every change a full sweep would make now, chunk by chunk (the command's dry run)."""
    policies = Policies.load()
    deprecated: set[int] = set()
    for rule in RULE_ORDER:
        for chunk in _chunks(rule_candidates(rule, now=now, policies=policies), chunk_size):
            yield from rule_rows(rule, chunk, now=now, policies=policies, deprecated=deprecated)
    for chunk in _chunks(retirement_candidates(), chunk_size):
        yield from retirement_rows(chunk, now=now)


def _chunks(queryset: QuerySet, size: int) -> Iterator[list]:
    last_id = 0
    while True:
        chunk = list(queryset.filter(id__gt=last_id).order_by("id")[:size])
        if not chunk:
            return
        last_id = chunk[-1].pk
        yield chunk
