"""Section (c): what changed since the previous version of the same model — metadata,
datasets, evidence (kinds and digests), eval metrics and the policy version.

Metadata is compared with django-simple-history's own diff (``diff_against`` between the
two versions' latest history rows, on ``VERSION_METADATA_FIELDS``); no version-diff helper
existed in the registry or approvals. The other aspects are sets read in one query each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

from django.db.models import Max

from approvals.choices import CheckName
from approvals.models import CheckResult, PromotionRequest
from core.permissions import Verb
from registry.metadata import VERSION_METADATA_FIELDS
from registry.models import Evidence, ModelVersion, VersionDataset
from reports.scope import ReportScope
from reports.sections.base import Row, Section

COLUMNS = ("team", "model", "version", "previous", "aspect", "item", "before", "after")


def changes_section(scope: ReportScope) -> Section:
    def rows() -> Iterator[Row]:
        listed = set(
            scope.versions().filter(scope.in_window("created_at")).values_list("pk", flat=True)
        )
        if not listed:
            return
        lineage = list(
            ModelVersion.objects.visible_to(scope.actor, Verb.EXPORT)
            .filter(registered_model__in=scope.versions().values("registered_model"))
            .select_related("registered_model__team")
            .order_by("registered_model_id", "semver_key", "id")
        )
        ids = [version.pk for version in lineage]
        aspects = _aspects(ids)
        previous_of: dict[int, ModelVersion] = {}
        for earlier, later in pairwise(lineage):
            if earlier.registered_model_id == later.registered_model_id:
                previous_of[later.pk] = earlier
        for version in lineage:
            if version.pk not in listed:
                continue
            head = (version.team.slug, version.registered_model.name, version.version)
            previous = previous_of.get(version.pk)
            if previous is None:
                yield dict(zip(COLUMNS, (*head, "", "first version", "", "", ""), strict=True))
                continue
            for aspect, item, before, after in _differences(aspects, previous.pk, version.pk):
                yield dict(
                    zip(
                        COLUMNS, (*head, previous.version, aspect, item, before, after), strict=True
                    )
                )

    return Section(
        "changes",
        "What changed since the previous version",
        COLUMNS,
        rows,
        window_field="versions registered in the window",
    )


def _aspects(ids: list[int]) -> dict[str, dict[int, Any]]:
    """Per version id: its latest history row, datasets, evidence digests, eval metrics and
    policy version. Five queries, whatever the number of versions."""
    # Only each version's latest history row: a version may have a million of them.
    history_rows = ModelVersion.history.filter(id__in=ids)
    latest = history_rows.values("id").annotate(latest=Max("history_id")).values("latest")
    history = {row.id: row for row in ModelVersion.history.filter(history_id__in=latest)}
    datasets: dict[int, dict[str, str]] = defaultdict(dict)
    links = VersionDataset.objects.filter(model_version_id__in=ids).values_list(
        "model_version_id",
        "use",
        "dataset_version__dataset__name",
        "dataset_version__version",
        "dataset_version__checksum",
    )
    for version_id, use, name, label, checksum in links:
        datasets[version_id][f"{use}: {name}"] = f"{label} {checksum}".strip()
    evidence: dict[int, dict[str, str]] = defaultdict(dict)
    for version_id, kind, digest in (
        Evidence.objects.filter(version_id__in=ids)
        .order_by("version_id", "kind", "-id")
        .values_list("version_id", "kind", "sha256")
    ):
        evidence[version_id].setdefault(kind, digest)  # the newest of each kind counts
    policies: dict[int, str] = {}
    for version_id, snapshot in (
        PromotionRequest.objects.filter(version_id__in=ids)
        .order_by("version_id", "-created_at", "-id")
        .values_list("version_id", "policy_snapshot")
    ):
        policies.setdefault(version_id, f"{snapshot.get('name')} v{snapshot.get('version')}")
    metrics: dict[int, dict[str, Any]] = {}
    for version_id, observed in (
        CheckResult.objects.filter(
            request__version_id__in=ids, check_name=CheckName.EVAL_THRESHOLDS
        )
        .order_by("request__version_id", "-request__created_at", "-run", "-id")
        .values_list("request__version_id", "observed")
    ):
        if version_id not in metrics:
            metrics[version_id] = {
                _metric_name(result): result.get("observed")
                for result in observed.get("results", [])
            }
    return {
        "history": history,
        "datasets": datasets,
        "evidence": evidence,
        "eval metrics": metrics,
        "policy": policies,
    }


def _metric_name(result: dict[str, Any]) -> str:
    segment = result.get("segment")
    return f"{result.get('metric')}[{segment}]" if segment else str(result.get("metric"))


def _differences(
    aspects: dict[str, dict[int, Any]], before_id: int, after_id: int
) -> Iterator[tuple[str, str, Any, Any]]:
    old, new = aspects["history"].get(before_id), aspects["history"].get(after_id)
    if old is not None and new is not None:
        delta = new.diff_against(old, included_fields=VERSION_METADATA_FIELDS)
        for change in sorted(delta.changes, key=lambda change: change.field):
            yield "metadata", change.field, change.old, change.new
    for aspect in ("datasets", "evidence", "eval metrics"):
        before = aspects[aspect].get(before_id, {})
        after = aspects[aspect].get(after_id, {})
        for item in sorted(set(before) | set(after)):
            if before.get(item) != after.get(item):
                yield aspect, item, before.get(item), after.get(item)
    policy_before = aspects["policy"].get(before_id)
    policy_after = aspects["policy"].get(after_id)
    if policy_before != policy_after:
        yield "policy", "policy version", policy_before, policy_after
