"""What changed since the last release, component by component.

A release's components are matched with its previous release's by *slot*: the registered
model a model/adapter/prompt/config/SDK component pins a version of, the dataset a dataset
component pins a version of, and the model an evaluation report evaluates. Each slot is
``added``, ``removed``, ``changed`` (another version pinned) or ``unchanged``, with both
manifest entries side by side, and for changed slots: metadata (the registration fields,
``registry.metadata.VERSION_METADATA_FIELDS``), the version's datasets, eval metrics (read
from the eval package evidence) and a config's parameters key by key.

Both manifests are the stored ones, so the diff is what was submitted; the rows behind them
are read in four queries whatever the release size (versions, their dataset links,
evaluation evidence, and the previous release when not selected); ``diff_rows_of`` reads
them once for many releases (the audit report's releases section). Eval packages are read
from storage (not SQL). ``approvals.version_changes`` compares two versions of one model
through their history rows and the checks' results; that lives above ``registry``, so the
metadata comparison here reads the two version rows themselves.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.files.storage import default_storage
from django.db.models import Q, QuerySet

from registry.choices import ReleaseComponentKind
from registry.metadata import VERSION_METADATA_FIELDS
from registry.models import Evidence, ModelVersion, Release, ReleaseComponent, VersionDataset
from registry.release_manifest import MODEL_COMPONENT_KINDS

ADDED, REMOVED, CHANGED, UNCHANGED = "added", "removed", "changed", "unchanged"


@dataclass(frozen=True)
class FieldChange:
    """One item side by side: ``before`` is the previous release's value (None if absent)."""

    item: str
    before: Any
    after: Any

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class ComponentDiff:
    """One slot of the two releases: what it pinned before and after."""

    kind: str
    team: str
    name: str
    status: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    metadata: list[FieldChange] = field(default_factory=list)
    datasets: list[FieldChange] = field(default_factory=list)
    metrics: list[FieldChange] = field(default_factory=list)
    parameters: list[FieldChange] = field(default_factory=list)

    @property
    def version_before(self) -> str | None:
        return self.before["version"] if self.before else None

    @property
    def version_after(self) -> str | None:
        return self.after["version"] if self.after else None

    @property
    def entry(self) -> dict[str, Any]:
        """The entry that describes the slot now (the previous one when removed)."""
        return self.after or self.before or {}


@dataclass(frozen=True)
class ReleaseDiff:
    """A release against its previous release (``previous`` None: everything is added)."""

    release: Release
    previous: Release | None
    components: list[ComponentDiff]
    channels_before: list[str]
    channels_after: list[str]

    @property
    def channels_added(self) -> list[str]:
        return [channel for channel in self.channels_after if channel not in self.channels_before]

    def summary(self) -> dict[str, Any]:
        """Counts per status and the changed slots, for lists, the API and reports."""
        counts = {status: 0 for status in (ADDED, REMOVED, CHANGED, UNCHANGED)}
        for component in self.components:
            counts[component.status] += 1
        return {
            "previous_release": str(self.previous) if self.previous else None,
            "previous_release_id": self.previous.pk if self.previous else None,
            **counts,
            "components": [
                {
                    "kind": component.kind,
                    "team": component.team,
                    "name": component.name,
                    "status": component.status,
                    "before": component.version_before,
                    "after": component.version_after,
                }
                for component in self.components
                if component.status != UNCHANGED
            ],
            "channels_added": self.channels_added,
        }


def slot_of(entry: dict[str, Any]) -> tuple[str, str]:
    """Which slot a manifest entry fills: registered models share one slot across model
    kinds (a kind never changes), datasets and evaluation reports have their own."""
    kind = entry["kind"]
    family = "model" if kind in MODEL_COMPONENT_KINDS else kind
    return family, f"{entry.get('team', '')}/{entry.get('name', '')}"


def release_diff(release: Release, *, rows: DiffRows | None = None) -> ReleaseDiff:
    """``release`` against ``release.previous_release``, from the stored manifests.
    ``rows``: the rows read once for many releases (``diff_rows_of``), else read here."""
    previous = release.previous_release
    return manifest_diff(
        release=release,
        previous=previous,
        before=previous.manifest if previous else [],
        after=release.manifest,
        channels_before=list(previous.channels_tested) if previous else [],
        channels_after=list(release.channels_tested),
        rows=rows,
    )


def diff_rows_of(releases: QuerySet[Release]) -> DiffRows:
    """The rows behind every manifest of ``releases`` and of their previous releases, in
    three queries whatever their number: a report diffs every release of its scope, and a
    diff read per release would cost three queries each. The ids come from the release
    components, the rows every manifest entry was written from."""
    pinned = ReleaseComponent.objects.filter(
        Q(release__in=releases.values("pk")) | Q(release__in=releases.values("previous_release"))
    )
    return DiffRows(
        version_ids=pinned.filter(model_version__isnull=False).values("model_version_id"),
        evidence_ids=pinned.filter(evaluation__isnull=False).values("evaluation_id"),
    )


def manifest_diff(
    *,
    release: Release,
    previous: Release | None,
    before: list[dict[str, Any]],
    after: list[dict[str, Any]],
    channels_before: list[str],
    channels_after: list[str],
    rows: DiffRows | None = None,
) -> ReleaseDiff:
    """Two manifests compared slot by slot (``release_create`` calls this before the
    release row exists, to record its change categories)."""
    rows = rows if rows is not None else DiffRows.of_entries(before + after)
    old = {slot_of(entry): entry for entry in before}
    new = {slot_of(entry): entry for entry in after}
    components = []
    for slot in sorted(old.keys() | new.keys()):
        components.append(_slot_diff(rows, slot, old.get(slot), new.get(slot)))
    return ReleaseDiff(release, previous, components, channels_before, channels_after)


class DiffRows:
    """The rows behind every entry of the manifests compared, read once: the pinned
    versions, their datasets and the eval packages' metrics (ids as sets or subqueries)."""

    def __init__(self, *, version_ids: Any, evidence_ids: Any) -> None:
        self.versions = {
            version.pk: version
            for version in ModelVersion.objects.filter(pk__in=version_ids).select_related(
                "base_model_version__registered_model"
            )
        }
        self.datasets: dict[int, dict[str, str]] = defaultdict(dict)
        for version_id, use, name, label in VersionDataset.objects.filter(
            model_version_id__in=version_ids
        ).values_list(
            "model_version_id", "use", "dataset_version__dataset__name", "dataset_version__version"
        ):
            self.datasets[version_id][f"{use}: {name}"] = label
        self.metrics = {
            evidence.pk: eval_metrics(evidence)
            for evidence in Evidence.objects.filter(pk__in=evidence_ids).only("pk", "storage_key")
        }

    @classmethod
    def of_entries(cls, entries: list[dict[str, Any]]) -> DiffRows:
        """The rows behind ``entries`` (manifest entries, the release row not yet written)."""
        return cls(
            version_ids={
                entry["model_version"]
                for entry in entries
                if entry["kind"] in MODEL_COMPONENT_KINDS
            },
            evidence_ids={entry["evidence"] for entry in entries if "evidence" in entry},
        )


def eval_metrics(evidence: Evidence) -> dict[str, Any]:
    """An eval package's metrics, overall and per segment (``quality[locale:de]``), read as
    stored. The package is judged by the promotion checks (``approvals.evidence.evals``);
    here it is only shown, so an unreadable one shows as such instead of failing the page."""
    try:
        with default_storage.open(evidence.storage_key, "rb") as handle:
            document = json.loads(handle.read(1024 * 1024 + 1))
        metrics = {name: value for name, value in dict(document.get("metrics", {})).items()}
        for segment in document.get("segments") or []:
            for name, value in dict(segment.get("metrics", {})).items():
                metrics[f"{name}[{segment.get('name')}]"] = value
    except (OSError, ValueError, TypeError, AttributeError):
        return {"(unreadable eval package)": None}
    return metrics


def _side_by_side(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    return [
        FieldChange(item, before.get(item), after.get(item))
        for item in sorted(set(before) | set(after))
    ]


def _metadata(version: ModelVersion | None) -> dict[str, Any]:
    if version is None:
        return {}
    values = {name: getattr(version, name) for name in VERSION_METADATA_FIELDS}
    base = version.base_model_version
    values["base_model_version"] = (
        f"{base.registered_model.name} {base.version}" if base is not None else None
    )
    return values


def _slot_diff(
    rows: DiffRows,
    slot: tuple[str, str],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> ComponentDiff:
    entry = after or before
    if before is None:
        status = ADDED
    elif after is None:
        status = REMOVED
    else:
        status = UNCHANGED if _target(before) == _target(after) else CHANGED
    diff = ComponentDiff(entry["kind"], entry.get("team", ""), entry["name"], status, before, after)
    if slot[0] == "model":
        old = rows.versions.get(before["model_version"]) if before else None
        new = rows.versions.get(after["model_version"]) if after else None
        diff.metadata.extend(
            change
            for change in _side_by_side(_metadata(old), _metadata(new))
            if change.changed and status != ADDED
        )
        diff.datasets.extend(
            _side_by_side(
                rows.datasets.get(old.pk, {}) if old else {},
                rows.datasets.get(new.pk, {}) if new else {},
            )
        )
        if entry["kind"] == ReleaseComponentKind.CONFIG:
            diff.parameters.extend(
                _side_by_side(
                    (before or {}).get("parameters") or {}, (after or {}).get("parameters") or {}
                )
            )
    elif slot[0] == ReleaseComponentKind.EVALUATION_REPORT:
        diff.metrics.extend(
            _side_by_side(
                rows.metrics.get(before["evidence"], {}) if before else {},
                rows.metrics.get(after["evidence"], {}) if after else {},
            )
        )
    return diff


def _target(entry: dict[str, Any]) -> Any:
    return entry.get("evidence") or entry.get("dataset_version") or entry.get("model_version")
