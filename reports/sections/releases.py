"""Section "Releases": each release of the scope with what it pins, the change categories
detected at submission (with why), the rings it entered (when), and what changed since the
previous release of the same name, component by component.

One row per fact, like section (c): the release's head, then an ``aspect`` —
``component`` (a manifest entry), ``manifest`` (its digest), ``change category``,
``ring entered``, ``diff`` (a slot added, removed, changed or unchanged, or "first
release"), and ``diff metadata`` / ``diff datasets`` / ``diff metrics`` / ``diff
parameters`` (each item that differs in a slot). The diff is ``registry.release_diff``'s,
the one the release page and the API show, with its rows read once for every release
(``diff_rows_of``); the ring entries are read once too. Five queries whatever the number
of releases.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from approvals.models import RingEntry
from registry.release_diff import UNCHANGED, ComponentDiff, diff_rows_of, release_diff
from reports.scope import ReportScope
from reports.sections.base import CHUNK_SIZE, Record, Section

COLUMNS = (
    "team",
    "release",
    "version",
    "state",
    "submitted_at",
    "previous",
    "aspect",
    "component",
    "item",
    "before",
    "after",
)
#: The diff's item lists, in the order the release page shows them.
DIFF_DETAILS = ("metadata", "datasets", "metrics", "parameters")


def component_label(entry: dict[str, Any]) -> str:
    """How a row names a slot: ``model alpha/support-bot`` (an evaluation report's entry
    names its model, not a team: ``evaluation_report support-bot``)."""
    team = entry.get("team")
    name = f"{team}/{entry.get('name', '')}" if team else entry.get("name", "")
    return f"{entry.get('kind', '')} {name}"


def releases_section(scope: ReportScope) -> Section:
    def records() -> Iterator[Record]:
        releases = scope.releases_in_window()
        rings: dict[int, list[tuple[str, str, Any]]] = defaultdict(list)
        for release_id, environment, ring, entered_at in (
            RingEntry.objects.filter(release__in=releases.values("pk"))
            .order_by("release_id", "entered_at", "id")
            .values_list("release_id", "environment", "ring", "entered_at")
        ):
            rings[release_id].append((environment, ring, entered_at))
        rows = diff_rows_of(releases)
        listed = (
            releases.select_related("team", "previous_release")
            .order_by("team__slug", "name", "semver_key", "id")
            .iterator(chunk_size=CHUNK_SIZE)
        )
        for release in listed:
            previous = release.previous_release
            head = (
                release.team.slug,
                release.name,
                release.version,
                release.state,
                release.created_at,
                previous.version if previous else None,
            )
            for entry in release.manifest:
                yield (
                    *head,
                    "component",
                    component_label(entry),
                    "version",
                    None,
                    entry.get("version"),
                )
            yield (*head, "manifest", None, "sha256", None, release.manifest_sha256)
            for category in release.change_categories:
                yield (*head, "change category", None, category["category"], None, category["why"])
            for environment, ring, entered_at in rings.get(release.pk, ()):
                yield (*head, "ring entered", None, f"{environment}/{ring}", None, entered_at)
            if previous is None:
                yield (*head, "diff", None, "first release", None, None)
                continue
            diff = release_diff(release, rows=rows)
            if diff.channels_before != diff.channels_after:
                yield (
                    *head,
                    "diff",
                    None,
                    "channels tested",
                    diff.channels_before,
                    diff.channels_after,
                )
            for component in diff.components:
                yield from _component_rows(head, component)

    return Section(
        "releases",
        "Releases: what they pin, what changed since the previous release, rings entered",
        COLUMNS,
        records,
        window_field="releases submitted or entering a ring in the window",
    )


def _component_rows(head: tuple, component: ComponentDiff) -> Iterator[Record]:
    label = component_label(component.entry)
    before, after = component.version_before, component.version_after
    yield (*head, "diff", label, component.status, before, after)
    if component.status == UNCHANGED:
        return
    for detail in DIFF_DETAILS:
        for change in getattr(component, detail):
            if change.changed:
                yield (*head, f"diff {detail}", label, change.item, change.before, change.after)
