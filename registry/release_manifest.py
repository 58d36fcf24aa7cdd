"""A release's manifest: the canonical list of what it pins, and whether that still holds.

Each component becomes one entry (its kind, target id, registered model or dataset name,
version, the pinned artifact's digest, its state at submission and, for a config, its
parameters). The manifest is canonical JSON (``audit.transparency.canonical``: sorted keys,
no whitespace) and ``manifest_sha256`` its digest, taken once at submission.
``release_integrity`` recomputes the entries from the rows as they are now and names every
difference: a checksum, a dataset's digest or an evidence digest that changed, or a
component deprecated, retired or returned to draft since. A candidate approved after
submission is no problem: that is what the release's review does.
"""

from __future__ import annotations

import hashlib
from typing import Any

from audit.transparency.canonical import canonical_json, format_timestamp
from registry.choices import ReleaseComponentKind, VersionState
from registry.models import DatasetVersion, Evidence, ModelVersion, Release, ReleaseComponent

#: The component kinds that pin a model version (every registered model kind).
MODEL_COMPONENT_KINDS = frozenset(
    {
        ReleaseComponentKind.MODEL,
        ReleaseComponentKind.ADAPTER,
        ReleaseComponentKind.PROMPT,
        ReleaseComponentKind.CONFIG,
        ReleaseComponentKind.SDK,
    }
)
#: States a pinned version may be in at submission (candidates are approved by the
#: release's own review) and may reach afterwards without breaking the release.
PINNABLE_STATES = frozenset({VersionState.APPROVED, VersionState.CANDIDATE})

#: What to select with a component so an entry costs no further query.
COMPONENT_RELATED = (
    "model_version__registered_model__team",
    "dataset_version__dataset__team",
    "evaluation__version__registered_model",
)


def version_entry(kind: str, version: ModelVersion) -> dict[str, Any]:
    """The manifest entry of a pinned model version (registered model and team selected)."""
    model = version.registered_model
    entry = {
        "kind": kind,
        "model_version": version.pk,
        "team": model.team.slug,
        "name": model.name,
        "version": version.version,
        "checksum": version.checksum,
        "state": version.state,
    }
    if kind == ReleaseComponentKind.CONFIG:
        entry["parameters"] = version.parameters
    return entry


def dataset_entry(dataset_version: DatasetVersion) -> dict[str, Any]:
    """The manifest entry of a pinned dataset version (dataset and team selected)."""
    dataset = dataset_version.dataset
    return {
        "kind": ReleaseComponentKind.DATASET,
        "dataset_version": dataset_version.pk,
        "team": dataset.team.slug,
        "name": dataset.name,
        "version": dataset_version.version,
        "checksum": dataset_version.checksum,
        "window_start": format_timestamp(dataset_version.window_start),
        "window_end": format_timestamp(dataset_version.window_end),
    }


def evaluation_entry(evidence: Evidence) -> dict[str, Any]:
    """The manifest entry of the evaluation package (its version and model selected)."""
    return {
        "kind": ReleaseComponentKind.EVALUATION_REPORT,
        "evidence": evidence.pk,
        "model_version": evidence.version_id,
        "name": evidence.version.registered_model.name,
        "version": evidence.version.version,
        "evidence_kind": evidence.kind,
        "sha256": evidence.sha256,
    }


def component_entry(component: ReleaseComponent) -> dict[str, Any]:
    """The manifest entry of a component, from its target's current row."""
    if component.kind in MODEL_COMPONENT_KINDS:
        return version_entry(component.kind, component.model_version)
    if component.kind == ReleaseComponentKind.DATASET:
        return dataset_entry(component.dataset_version)
    return evaluation_entry(component.evaluation)


def entry_key(entry: dict[str, Any]) -> tuple[str, int]:
    """An entry's identity: its kind and target id (the manifest's sort order)."""
    target = entry.get("evidence") or entry.get("dataset_version") or entry.get("model_version")
    return entry["kind"], target


def manifest_of(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The canonical order of a manifest's entries."""
    return sorted(entries, key=entry_key)


def manifest_digest(manifest: list[dict[str, Any]]) -> str:
    """sha256 (hex) of the manifest's canonical JSON."""
    return hashlib.sha256(canonical_json(manifest)).hexdigest()


def _label(entry: dict[str, Any]) -> str:
    kind = ReleaseComponentKind(entry["kind"]).label.lower()
    return f"{kind} {entry.get('name', '?')} {entry.get('version', '?')}"


def _entry_problems(pinned: dict[str, Any], current: dict[str, Any]) -> list[str]:
    label = _label(pinned)
    problems = []
    for field, noun in (("checksum", "checksum"), ("sha256", "evidence digest")):
        if pinned.get(field) != current.get(field):
            problems.append(
                f"The {label}'s {noun} changed since submission "
                f"({pinned.get(field) or '(none)'} → {current.get(field) or '(none)'})."
            )
    for field in ("window_start", "window_end", "version"):
        if pinned.get(field) != current.get(field):
            problems.append(f"The {label}'s {field.replace('_', ' ')} changed since submission.")
    if pinned.get("parameters") != current.get("parameters"):
        problems.append(f"The {label}'s parameters changed since submission.")
    state = current.get("state")
    if state is not None and state not in PINNABLE_STATES and state != pinned.get("state"):
        problems.append(f"The {label} is {state} since submission.")
    return problems


def release_integrity(release: Release) -> list[str]:
    """The problems with ``release``'s pinned components now (empty when every component is
    as submitted): recomputed from the current rows and compared with the stored manifest,
    and the stored manifest checked against ``manifest_sha256``. Two queries."""
    problems = []
    if manifest_digest(release.manifest) != release.manifest_sha256:
        problems.append("The release's stored manifest does not match its digest.")
    components = ReleaseComponent.objects.filter(release=release).select_related(*COMPONENT_RELATED)
    current = {entry_key(entry): entry for entry in map(component_entry, components)}
    pinned = {entry_key(entry): entry for entry in release.manifest}
    for key, entry in pinned.items():
        now = current.get(key)
        if now is None:
            problems.append(f"The {_label(entry)} is no longer a component of the release.")
        else:
            problems.extend(_entry_problems(entry, now))
    for key in current.keys() - pinned.keys():
        problems.append(f"The {_label(current[key])} was added after submission.")
    return problems
