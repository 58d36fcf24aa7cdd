"""The two ways a command fails: the server (or the network) said no, or the local input
was unusable. Each knows its exit code."""

from __future__ import annotations

from typing import Any

from .exit_codes import EXIT_SERVER, status_exit_code


class ApiError(Exception):
    """A request that did not succeed: an HTTP error status or a transport failure."""

    def __init__(self, message: str, *, status: int | None = None, problem: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.problem = problem if problem is not None else {}
        self.retry_after: str | None = None  # the Retry-After header of a 429/503

    @property
    def exit_code(self) -> int:
        return EXIT_SERVER if self.status is None else status_exit_code(self.status)

    def as_json(self) -> dict[str, Any]:
        """The server's problem document, or one written here for a transport failure."""
        if isinstance(self.problem, dict) and self.problem:
            return self.problem
        return {
            "type": "about:blank",
            "title": "Request failed" if self.status else "Server unreachable",
            "status": self.status,
            "detail": self.message,
        }


class UsageError(Exception):
    """Bad flags or unusable local input: exit 2."""
