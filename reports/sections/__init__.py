"""The report's sections, in the order the report shows them (issue 10's questions)."""

from __future__ import annotations

from reports.scope import ReportScope
from reports.sections.approval import checks_section, exceptions_section, signoffs_section
from reports.sections.base import CITED, NONE_RECORDED, Row, Section
from reports.sections.changes import changes_section
from reports.sections.evaluations import evaluations_section
from reports.sections.incidents import incidents_section
from reports.sections.monitoring import monitoring_section
from reports.sections.releases import releases_section
from reports.sections.serving import serving_section
from reports.sections.trail import history_section, transitions_section

SECTION_BUILDERS = (
    serving_section,  # (a)
    evaluations_section,  # (b)
    changes_section,  # (c)
    signoffs_section,  # (d)
    checks_section,  # (e)
    exceptions_section,  # (f)
    transitions_section,  # (g)
    monitoring_section,  # (h)
    releases_section,  # issue 13: what changed since the last release, rings entered
    incidents_section,  # issue 13: incidents on the releases and versions
    history_section,  # the row history the report rests on
)


def report_sections(scope: ReportScope) -> list[Section]:
    return [build(scope) for build in SECTION_BUILDERS]


__all__ = ["CITED", "NONE_RECORDED", "Row", "Section", "report_sections"]
