"""The exit codes a CI step branches on, and the one mapping from an HTTP status to them.

They are the client's contract with pipelines (docs/ci/README.md, section 3): never
renumber one.
"""

from __future__ import annotations

EXIT_OK = 0  # success; for status/wait: approved
EXIT_INTERNAL = 1  # a bug in this client (an unexpected exception)
EXIT_USAGE = 2  # bad flags or configuration (argparse's own code)
EXIT_PENDING = 3  # not decided yet: in review, or --wait timed out
EXIT_BLOCKED = 4  # changes requested / rejected / expired / withdrawn / deprecated
EXIT_CONFLICT = 5  # 409 (e.g. same version, other checksum) or 422 (Idempotency-Key reuse)
EXIT_AUTH = 6  # 401 / 403: token missing scope, revoked, expired, wrong team
EXIT_NOT_FOUND = 7  # 404: no such version / request / model / endpoint
EXIT_INVALID = 8  # 400 / 413 / 415 and other 4xx: the input was refused
EXIT_SERVER = 9  # 5xx, 429, connection refused, DNS, TLS, timeout, non-JSON answer
EXIT_INTERRUPTED = 130  # Ctrl-C (the shell's convention, 128 + SIGINT)

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success (status: approved)",
    EXIT_INTERNAL: "unexpected client error (a bug: please report it)",
    EXIT_USAGE: "usage error: bad flags, missing URL/token, unreadable local file",
    EXIT_PENDING: "pending: still submitted/checking/in review, or --wait/--timeout ran out",
    EXIT_BLOCKED: "blocked: changes_requested, rejected, expired, withdrawn (reasons printed)",
    EXIT_CONFLICT: "conflict: HTTP 409 (version exists with another checksum, open request) "
    "or 422 (Idempotency-Key reused with another payload)",
    EXIT_AUTH: "authentication/authorisation: HTTP 401 or 403",
    EXIT_NOT_FOUND: "not found: HTTP 404",
    EXIT_INVALID: "invalid input: HTTP 400, 413 (too large), 415 and other 4xx",
    EXIT_SERVER: "server or network error: HTTP 5xx/429, connection refused, timeout",
}


def status_exit_code(http_status: int) -> int:
    """The exit code for an HTTP error status."""
    if http_status in (409, 422):
        return EXIT_CONFLICT
    if http_status in (401, 403):
        return EXIT_AUTH
    if http_status == 404:
        return EXIT_NOT_FOUND
    if http_status == 429 or http_status >= 500:
        return EXIT_SERVER
    if 400 <= http_status < 500:
        return EXIT_INVALID
    return EXIT_SERVER  # a 1xx/3xx we did not follow is not something we understand
