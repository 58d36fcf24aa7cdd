"""Verifying a signed decision record: a pure read, shared by the write layer (which
signs records with these statement types), the ``verify_decision`` command and the review
page (which shows "verified" only when this says so)."""

from __future__ import annotations

from typing import Any

from approvals import signing
from approvals.assessment import artifact_name
from approvals.models import PromotionRequest

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://govboard.dev/decision/v1"


def verify_decision_envelope(
    envelope: dict[str, Any], *, request: PromotionRequest | None = None
) -> tuple[bool, list[str], dict[str, Any] | None]:
    """Verify the DSSE signature with the server's public key; when ``request`` is given,
    also that the statement names its version's artifact and checksum and its id."""
    try:
        statement = signing.dsse_verify(envelope)
    except ValueError as exc:
        return False, [str(exc)], None
    problems = []
    if statement.get("_type") != STATEMENT_TYPE or statement.get("predicateType") != PREDICATE_TYPE:
        problems.append("not a govboard decision statement")
    if request is not None:
        version = request.version
        subjects = statement.get("subject") or []
        if not any(
            s.get("name") == artifact_name(version)
            and (s.get("digest") or {}).get("sha256") == version.checksum
            for s in subjects
            if isinstance(s, dict)
        ):
            problems.append("the subject does not name this version's artifact and checksum")
        if ((statement.get("predicate") or {}).get("request") or {}).get("id") != request.pk:
            problems.append("the statement is for another request")
    return not problems, problems, statement


__all__ = ["PREDICATE_TYPE", "STATEMENT_TYPE", "verify_decision_envelope"]
