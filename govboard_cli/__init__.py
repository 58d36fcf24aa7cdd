"""``govboard``: the command-line client CI pipelines use to talk to the govboard API.

Standard library only, and nothing of the server: a pipeline can ``pip install`` the
package, or copy this ``govboard_cli/`` folder into its repository and run
``python3 -m govboard_cli …`` (see docs/ci/README.md). Configuration comes from flags or
the environment:

- ``GOVBOARD_URL``   base URL of the server, e.g. ``https://govboard.example.com``
- ``GOVBOARD_TOKEN`` a service-account token ``gbt_<prefix>_<secret>`` (never printed)

Every command prints one short human line on stderr and the JSON it got on stdout
(``--json``: only the JSON). The exit code says what happened, so a CI step can branch
on it without parsing anything; see ``exit_codes`` and ``govboard --help``.

The client is deliberately tolerant of the responses: it reads only the fields it needs
(``id``, ``state``, ``reasons``, ``checks``) and passes everything else through untouched,
so a newer server never breaks an older client.

Modules: ``app`` (entry point), ``parser`` (flags), ``commands/`` (one module per group),
``client`` (HTTP, token, URL), ``waiting`` (polling), ``outcomes`` (state → exit code),
``states`` (the server's names), ``exit_codes``, ``errors``, ``inputs``, ``output``.
"""

from __future__ import annotations

from .app import main, run
from .client import Client, Response, idempotency_key_for
from .commands import COMMANDS
from .errors import ApiError, UsageError
from .exit_codes import (
    EXIT_AUTH,
    EXIT_BLOCKED,
    EXIT_CODES,
    EXIT_CONFLICT,
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_PENDING,
    EXIT_SERVER,
    EXIT_USAGE,
    status_exit_code,
)
from .parser import build_parser

__all__ = [
    "COMMANDS",
    "EXIT_AUTH",
    "EXIT_BLOCKED",
    "EXIT_CODES",
    "EXIT_CONFLICT",
    "EXIT_INTERNAL",
    "EXIT_INVALID",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_PENDING",
    "EXIT_SERVER",
    "EXIT_USAGE",
    "ApiError",
    "Client",
    "Response",
    "UsageError",
    "build_parser",
    "idempotency_key_for",
    "main",
    "run",
    "status_exit_code",
]
