"""Change categories: what a release's diff touches, each with why it was detected.

The categories (``registry.choices.ChangeCategory``) select the review policy's reviewers.
How each is read from the diff (ADR 0019):

- ``base_model``: a model or adapter slot added (a new model, or another registered model
  in place of the previous one), or changed with another base model
  (``base_model_version`` or ``base_model_reference``).
- ``config_logic``: a config slot added, or changed with another set of parameter keys.
- ``threshold``: a config slot added (its values are new), or changed with the same keys
  and other values; a new config version with identical parameters is a policy update too
  (another artifact is another policy, even when its numbers agree), said so in ``why``.
- ``sdk_major``: an SDK slot added, or changed with another major version.
- ``new_channel``: a channel tested that the previous release did not test.
- ``dataset_refresh``: a dataset slot added or removed (a dataset replaced by another), or
  changed with its window end moved by ``DATASET_REFRESH_DAYS`` days or more.

A first release (no previous release) is all "added": it gets every category that
applies, so the first release of a stack gets the full review.
"""

from __future__ import annotations

from datetime import datetime

from registry import semver
from registry.choices import ChangeCategory, ReleaseComponentKind
from registry.release_diff import ADDED, CHANGED, REMOVED, ComponentDiff, ReleaseDiff

#: A dataset version whose window end moved by at least this many days is a major refresh
#: (a month of new data; a shorter move is a routine top-up).
DATASET_REFRESH_DAYS = 30

_BASE_MODEL_FIELDS = ("base_model_version", "base_model_reference")


def _base_model(component: ComponentDiff) -> str | None:
    if component.kind not in (ReleaseComponentKind.MODEL, ReleaseComponentKind.ADAPTER):
        return None
    if component.status == ADDED:
        return f"New {component.kind} {component.name} {component.version_after}."
    if component.status == CHANGED:
        moved = [change for change in component.metadata if change.item in _BASE_MODEL_FIELDS]
        if moved:
            return (
                f"{component.name} {component.version_before} → {component.version_after} "
                f"changes its base model ({moved[0].before or '(none)'} → "
                f"{moved[0].after or '(none)'})."
            )
    return None


def _config(component: ComponentDiff) -> list[tuple[str, str]]:
    if component.kind != ReleaseComponentKind.CONFIG or component.status not in (ADDED, CHANGED):
        return []
    name, before, after = component.name, component.version_before, component.version_after
    if component.status == ADDED:
        keys = ", ".join(change.item for change in component.parameters) or "none"
        return [
            (ChangeCategory.CONFIG_LOGIC, f"New config {name} {after} (parameters: {keys})."),
            (ChangeCategory.THRESHOLD, f"New config {name} {after} sets its threshold values."),
        ]
    keys_before = {change.item for change in component.parameters if change.before is not None}
    keys_after = {change.item for change in component.parameters if change.after is not None}
    if keys_before != keys_after:
        added = ", ".join(sorted(keys_after - keys_before)) or "none"
        removed = ", ".join(sorted(keys_before - keys_after)) or "none"
        return [
            (
                ChangeCategory.CONFIG_LOGIC,
                f"Config {name} {before} → {after} changes its parameter keys "
                f"(added: {added}; removed: {removed}).",
            )
        ]
    values = [
        f"{change.item} {change.before} → {change.after}"
        for change in component.parameters
        if change.changed
    ]
    if values:
        why = f"Config {name} {before} → {after}: {', '.join(values)}."
    else:
        why = f"Config {name} {before} → {after} with identical parameters (a policy update)."
    return [(ChangeCategory.THRESHOLD, why)]


def _sdk_major(component: ComponentDiff) -> str | None:
    if component.kind != ReleaseComponentKind.SDK:
        return None
    if component.status == ADDED:
        return f"New SDK {component.name} {component.version_after}."
    if component.status == CHANGED:
        before = semver.parse(component.version_before).major
        after = semver.parse(component.version_after).major
        if before != after:
            return (
                f"SDK {component.name} {component.version_before} → {component.version_after} "
                f"(major {before} → {after})."
            )
    return None


def _dataset_refresh(component: ComponentDiff) -> str | None:
    if component.kind != ReleaseComponentKind.DATASET:
        return None
    if component.status == ADDED:
        return f"New dataset {component.name} {component.version_after}."
    if component.status == REMOVED:
        return f"Dataset {component.name} {component.version_before} is no longer used."
    if component.status == CHANGED:
        end_before = datetime.fromisoformat(component.before["window_end"])
        end_after = datetime.fromisoformat(component.after["window_end"])
        days = abs((end_after - end_before).days)
        if days >= DATASET_REFRESH_DAYS:
            return (
                f"Dataset {component.name} {component.version_before} → "
                f"{component.version_after}: its window end moved {days} days "
                f"(≥ {DATASET_REFRESH_DAYS})."
            )
    return None


def detect_change_categories(diff: ReleaseDiff) -> list[dict[str, str]]:
    """Every category the diff touches, in ``ChangeCategory`` order, each once with every
    reason found (``{"category": ..., "why": ...}``); empty for the lighter policy."""
    found: dict[str, list[str]] = {}
    for component in diff.components:
        reasons: list[tuple[str, str | None]] = [
            (ChangeCategory.BASE_MODEL, _base_model(component)),
            (ChangeCategory.SDK_MAJOR, _sdk_major(component)),
            (ChangeCategory.DATASET_REFRESH, _dataset_refresh(component)),
            *_config(component),
        ]
        for category, why in reasons:
            if why:
                found.setdefault(category, []).append(why)
    if diff.channels_added:
        found[ChangeCategory.NEW_CHANNEL] = [
            f"Channel(s) not tested by the previous release: {', '.join(diff.channels_added)}."
        ]
    return [
        {"category": category, "why": " ".join(found[category])}
        for category in ChangeCategory.values
        if category in found
    ]
