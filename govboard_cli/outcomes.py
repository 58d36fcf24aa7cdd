"""From the server's answer to the exit code: what a request's or a version's state means
to a pipeline, and why a blocked one is blocked. Reads only ``id``, ``state``,
``reasons``, ``checks`` and ``promotion_requests``; everything else passes through."""

from __future__ import annotations

from typing import Any

from .exit_codes import EXIT_BLOCKED, EXIT_OK, EXIT_PENDING
from .states import (
    APPROVED_STATES,
    APPROVED_VERSION_STATES,
    BLOCKED_STATES,
    BLOCKED_VERSION_STATES,
    CHECKING_STATES,
    REVIEW_STATES,
)


def reasons(request: dict[str, Any]) -> list[str]:
    """Why a request is blocked: its reasons, plus failed checks not already named."""
    found = [str(reason) for reason in request.get("reasons") or []]
    for check in request.get("checks") or []:
        if isinstance(check, dict) and check.get("passed") is False:
            line = f"check {check.get('check_name', '?')} failed"
            if check.get("critical"):
                line += " (critical)"
            if check.get("detail"):
                line += f": {check['detail']}"
            detail = str(check.get("detail") or "")
            if not any(detail and detail in reason for reason in found):
                found.append(line)
    return found


def request_outcome(request: dict[str, Any]) -> int:
    """0 approved, 4 blocked, 3 otherwise (open, or a state this client does not know)."""
    state = request.get("state")
    if state in APPROVED_STATES:
        return EXIT_OK
    if state in BLOCKED_STATES:
        return EXIT_BLOCKED
    return EXIT_PENDING  # submitted/checking/in_review, and states this client does not know


def latest_request(version: dict[str, Any]) -> dict[str, Any] | None:
    """The version's most recent promotion request, if it has one."""
    requests = [r for r in version.get("promotion_requests") or [] if isinstance(r, dict)]
    if not requests:
        return None
    return max(requests, key=lambda r: (str(r.get("created_at") or ""), r.get("id") or 0))


def version_outcome(version: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    """A version's exit code (its latest request decides until it is approved or
    deprecated/retired), and that latest request."""
    state = version.get("state")
    latest = latest_request(version)
    if state in APPROVED_VERSION_STATES:
        return EXIT_OK, latest
    if state in BLOCKED_VERSION_STATES:
        return EXIT_BLOCKED, latest
    if latest is None:
        return EXIT_PENDING, None
    return request_outcome(latest), latest


def checks_outcome(request: dict[str, Any], *, waited: bool) -> int:
    """After submit or recheck: 0 the checks passed (in review, or already approved),
    4 they block it, 3 still checking when the wait ran out (or a state this client does
    not know). Without waiting, an accepted request that is still being checked is 0."""
    state = request.get("state")
    if state in BLOCKED_STATES:
        return EXIT_BLOCKED
    if state in REVIEW_STATES or state in APPROVED_STATES:
        return EXIT_OK
    if state in CHECKING_STATES and not waited:
        return EXIT_OK
    return EXIT_PENDING
