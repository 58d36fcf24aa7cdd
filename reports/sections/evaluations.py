"""Section (b): which evaluation approved each release — the eval package's metrics next to
the thresholds of the policy version the request was judged under, as the
``eval_thresholds`` check recorded them at approval (its latest run)."""

from __future__ import annotations

from collections.abc import Iterator

from approvals.choices import CheckName, RequestState
from approvals.models import CheckResult
from reports.scope import ReportScope
from reports.sections.base import CHUNK_SIZE, Record, Section

COLUMNS = (
    "team",
    "model",
    "version",
    "request",
    "approved_at",
    "policy",
    "policy_version",
    "eval_evidence",
    "checkpoint",
    "metric",
    "segment",
    "observed",
    "comparison",
    "limit",
    "passed",
)


def evaluations_section(scope: ReportScope) -> Section:
    def records() -> Iterator[Record]:
        approved = scope.requests().filter(
            scope.in_window("decided_at"), state=RequestState.APPROVED
        )
        values = (
            CheckResult.objects.filter(
                request__in=approved.values("pk"), check_name=CheckName.EVAL_THRESHOLDS
            )
            .order_by("request_id", "-run", "-id")
            .values_list(
                "request__version__registered_model__team__slug",
                "request__version__registered_model__name",
                "request__version__version",
                "request_id",
                "request__decided_at",
                "request__policy_snapshot",
                "evidence_sha256",
                "observed",
            )
        )
        last_request = None
        for *request, decided_at, policy, evidence, observed in values.iterator(
            chunk_size=CHUNK_SIZE
        ):
            if request[3] == last_request:
                continue  # an earlier run of the same request: the latest one approved it
            last_request = request[3]
            head = (*request, decided_at, policy.get("name"), policy.get("version"), evidence)
            for result in observed.get("results", []):
                yield (
                    *head,
                    observed.get("checkpoint_id"),
                    result.get("metric"),
                    result.get("segment") or "",
                    result.get("observed"),
                    result.get("comparison"),
                    result.get("limit"),
                    result.get("passed"),
                )

    return Section(
        "evaluations",
        "Which evaluation approved each release (metrics vs thresholds)",
        COLUMNS,
        records,
        window_field="approved_at",
    )
