"""Domain errors that services raise; interfaces translate them (API: problem+json)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refused governance operation. Nothing was changed when this is raised."""

    status_code = 400
    code = "invalid"
    title = "Invalid request"

    def __init__(self, message: str, *, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class InvalidInput(DomainError):
    status_code = 400
    code = "invalid"
    title = "Invalid input"


class NotPermitted(DomainError):
    status_code = 403
    code = "permission-denied"
    title = "Not permitted"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    title = "Conflict"


class IllegalTransition(Conflict):
    code = "illegal-transition"
    title = "Illegal lifecycle transition"
