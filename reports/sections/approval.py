"""Sections (d), (e) and (f): who approved (sign-offs), which checks ran, which exceptions
were granted — the rows recorded on the scope's promotion requests. The audit events
behind them (``promotion.signed``, ``promotion.checked``, ``promotion.exception_granted``)
are listed, and proven, in section (g)."""

from __future__ import annotations

from collections.abc import Iterator

from approvals.assessment import role_label
from approvals.models import CheckException, CheckResult, SignOff
from reports.scope import ReportScope
from reports.sections.base import CHUNK_SIZE, Record, Section

_REQUEST = ("team", "model", "version", "request")
_REQUEST_PATHS = (
    "request__version__registered_model__team__slug",
    "request__version__registered_model__name",
    "request__version__version",
    "request_id",
)


def signoffs_section(scope: ReportScope) -> Section:
    """(d) Who approved, when, in which role and with which meaning."""
    columns = (*_REQUEST, "role", "role_label", "signer", "signed_at", "meaning", "reauth")

    def records() -> Iterator[Record]:
        queryset = SignOff.objects.filter(request__in=scope.requests().values("pk"))
        values = (
            queryset.filter(scope.in_window("signed_at"))
            .order_by("request_id", "signed_at", "id")
            .values_list(
                *_REQUEST_PATHS, "role", "signer__username", "signed_at", "meaning", "reauth_method"
            )
        )
        for *request, role, signer, signed_at, meaning, reauth in values.iterator(
            chunk_size=CHUNK_SIZE
        ):
            yield (*request, role, role_label(role), signer, signed_at, meaning, reauth)

    return Section("signoffs", "Who approved", columns, records, window_field="signed_at")


def checks_section(scope: ReportScope) -> Section:
    """(e) Every automated check that ran, every run, with its result."""
    columns = (*_REQUEST, "run", "check", "passed", "critical", "detail", "evidence", "run_at")

    def records() -> Iterator[Record]:
        queryset = CheckResult.objects.filter(request__in=scope.requests().values("pk"))
        values = (
            queryset.filter(scope.in_window("run_at"))
            .order_by("request_id", "run", "id")
            .values_list(
                *_REQUEST_PATHS,
                "run",
                "check_name",
                "passed",
                "critical",
                "detail",
                "evidence_sha256",
                "run_at",
            )
        )
        yield from values.iterator(chunk_size=CHUNK_SIZE)

    return Section("checks", "Which checks ran", columns, records, window_field="run_at")


def exceptions_section(scope: ReportScope) -> Section:
    """(f) Which exceptions were granted, by whom, why, until when."""
    columns = (*_REQUEST, "check", "justification", "granted_by", "granted_at", "expires_at")

    def records() -> Iterator[Record]:
        queryset = CheckException.objects.filter(request__in=scope.requests().values("pk"))
        values = (
            queryset.filter(scope.in_window("granted_at"))
            .order_by("request_id", "id")
            .values_list(
                *_REQUEST_PATHS,
                "check_name",
                "justification",
                "granted_by__username",
                "granted_at",
                "expires_at",
            )
        )
        yield from values.iterator(chunk_size=CHUNK_SIZE)

    return Section("exceptions", "Which exceptions were granted", columns, records, "granted_at")
