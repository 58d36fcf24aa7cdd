"""Section (h): what monitoring evidence exists after launch — evidence uploaded to a
version after it was approved (the report says "none recorded" when there is none)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import F

from registry.models import Evidence
from reports.scope import ReportScope
from reports.sections.base import CHUNK_SIZE, Record, Section

COLUMNS = (
    "team",
    "model",
    "version",
    "approved_at",
    "kind",
    "sha256",
    "uploaded_at",
    "uploaded_by",
)


def monitoring_section(scope: ReportScope) -> Section:
    def records() -> Iterator[Record]:
        values = (
            Evidence.objects.filter(
                scope.in_window("uploaded_at"),
                version__in=scope.versions().values("pk"),
                version__approved_at__isnull=False,
                uploaded_at__gt=F("version__approved_at"),
            )
            .order_by("version_id", "uploaded_at", "id")
            .values_list(
                "version__registered_model__team__slug",
                "version__registered_model__name",
                "version__version",
                "version__approved_at",
                "kind",
                "sha256",
                "uploaded_at",
                "uploaded_by__username",
            )
        )
        yield from values.iterator(chunk_size=CHUNK_SIZE)

    return Section(
        "monitoring",
        "Monitoring evidence after launch",
        COLUMNS,
        records,
        window_field="uploaded_at",
    )
