"""The entry point: parse the flags, build the client, run the command, map every
failure to its exit code."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

from .client import Client, base_url, read_token
from .commands import COMMANDS
from .errors import ApiError, UsageError
from .exit_codes import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE
from .output import Output
from .parser import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script passes it to sys.exit)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) and usage errors (2) without killing a caller
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    out = Output(json_only=args.json)
    try:
        client = Client(
            base_url(args.url, out.say),
            read_token(args.token, args.token_file),
            timeout=args.http_timeout,
            retries=args.retries,
        )
        return COMMANDS[args.command](client, args, out)
    except UsageError as exc:
        print(f"govboard {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ApiError as exc:
        out.say(f"govboard {args.command}: {exc.message}")
        out.data(exc.as_json())
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # the exit code must stay meaningful even for our own bugs
        print(f"govboard {args.command}: unexpected error: {exc!r}", file=sys.stderr)
        return EXIT_INTERNAL


def run() -> NoReturn:
    """``main()`` with its exit code passed to the shell: ``python3 -m govboard_cli`` and
    the single-file ``govboard.pyz`` (``zipapp -m govboard_cli:run``) start here."""
    sys.exit(main())
