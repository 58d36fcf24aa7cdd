"""Section (c): what changed since the previous version of the same model — metadata,
datasets, evidence (kinds and digests), eval metrics and the policy version.

The comparison is ``approvals.version_changes`` (the review page's "changes since the
previous approved version" reads the same one); here the previous version is the one
before in semantic-version order, approved or not.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

from approvals.version_changes import version_aspects, version_differences
from core.permissions import Verb
from registry.models import ModelVersion
from reports.scope import ReportScope
from reports.sections.base import Record, Section

COLUMNS = ("team", "model", "version", "previous", "aspect", "item", "before", "after")


def changes_section(scope: ReportScope) -> Section:
    def records() -> Iterator[Record]:
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
        aspects = version_aspects(ids)
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
                yield (*head, "", "first version", "", "", "")
                continue
            for change in version_differences(aspects, previous.pk, version.pk):
                values = (change.aspect, change.item, change.before, change.after)
                yield (*head, previous.version, *values)

    return Section(
        "changes",
        "What changed since the previous version",
        COLUMNS,
        records,
        window_field="versions registered in the window",
    )
