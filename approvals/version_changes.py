"""What changed between two versions of a model: metadata, datasets, evidence digests,
eval metrics and the policy version they were judged under.

One implementation, read by the review page ("changes since the previous approved
version") and by the auditor's report (section (c), "changes since the previous
version"). Metadata is compared with django-simple-history's own diff (``diff_against``
between the two versions' latest history rows, on ``VERSION_METADATA_FIELDS``); the other
aspects are maps read in one query each, for any number of versions at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Max

from approvals.choices import CheckName
from approvals.models import CheckResult, PromotionRequest
from registry.metadata import VERSION_METADATA_FIELDS
from registry.models import Evidence, ModelVersion, VersionDataset

#: The aspects compared, in the order they are shown.
ASPECTS = ("metadata", "datasets", "evidence", "eval metrics", "policy")

VersionAspects = dict[str, dict[int, Any]]


@dataclass(frozen=True)
class Change:
    """One item that differs: ``before`` is the earlier version's value (None if absent)."""

    aspect: str
    item: str
    before: Any
    after: Any


def version_aspects(ids: Iterable[int]) -> VersionAspects:
    """Per version id: its latest history row, datasets, evidence digests, eval metrics and
    policy version. Five queries, whatever the number of versions."""
    ids = list(ids)
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
                metric_name(result): result.get("observed")
                for result in observed.get("results", [])
            }
    return {
        "history": history,
        "datasets": datasets,
        "evidence": evidence,
        "eval metrics": metrics,
        "policy": policies,
    }


def metric_name(result: dict[str, Any]) -> str:
    """A threshold result's metric, with its segment in brackets (``quality[locale:de]``)."""
    segment = result.get("segment")
    return f"{result.get('metric')}[{segment}]" if segment else str(result.get("metric"))


def version_differences(aspects: VersionAspects, before_id: int, after_id: int) -> Iterator[Change]:
    """Every item that differs from version ``before_id`` to ``after_id``, aspect by aspect
    (in ``ASPECTS`` order, items sorted)."""
    old, new = aspects["history"].get(before_id), aspects["history"].get(after_id)
    if old is not None and new is not None:
        delta = new.diff_against(old, included_fields=VERSION_METADATA_FIELDS)
        for change in sorted(delta.changes, key=lambda change: change.field):
            yield Change("metadata", change.field, change.old, change.new)
    for aspect in ("datasets", "evidence", "eval metrics"):
        for item, before, after in side_by_side(aspects, aspect, before_id, after_id):
            if before != after:
                yield Change(aspect, item, before, after)
    policy_before = aspects["policy"].get(before_id)
    policy_after = aspects["policy"].get(after_id)
    if policy_before != policy_after:
        yield Change("policy", "policy version", policy_before, policy_after)


def side_by_side(
    aspects: VersionAspects, aspect: str, before_id: int, after_id: int
) -> list[tuple[str, Any, Any]]:
    """Every item of a map aspect (datasets, evidence, eval metrics) with both versions'
    values, changed or not, sorted by item."""
    before = aspects[aspect].get(before_id, {})
    after = aspects[aspect].get(after_id, {})
    return [(item, before.get(item), after.get(item)) for item in sorted(set(before) | set(after))]


def previous_approved_version(version: ModelVersion) -> ModelVersion | None:
    """The highest version of the same model below ``version`` that was ever approved
    (a later deprecation keeps ``approved_at``), or None. One query."""
    return (
        ModelVersion.objects.filter(
            registered_model_id=version.registered_model_id,
            approved_at__isnull=False,
            semver_key__lt=version.semver_key,
        )
        .exclude(pk=version.pk)
        .select_related("registered_model")
        .order_by("-semver_key", "-id")
        .first()
    )


__all__ = [
    "ASPECTS",
    "Change",
    "VersionAspects",
    "metric_name",
    "previous_approved_version",
    "side_by_side",
    "version_aspects",
    "version_differences",
]
