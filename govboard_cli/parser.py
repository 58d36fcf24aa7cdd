"""The command line: flags of every command, and the exit codes in ``--help``."""

from __future__ import annotations

import argparse
from typing import Any

from .client import DEFAULT_URL
from .exit_codes import EXIT_CODES
from .states import DATASET_USES, EVIDENCE_KINDS, FINE_TUNE_METHODS, MODEL_KINDS, RISK_RATINGS


def _exit_code_epilog() -> str:
    lines = ["exit codes:"]
    lines += [f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items()]
    lines += [
        "",
        "environment:",
        f"  GOVBOARD_URL    server base URL (default {DEFAULT_URL})",
        "  GOVBOARD_TOKEN  service-account token gbt_<prefix>_<secret> (never printed)",
        "",
        "stdout carries JSON (the server's resource or problem+json); stderr a human line.",
    ]
    return "\n".join(lines)


def _positive_id(value: str) -> int:
    try:
        number = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an id: {value!r}") from exc
    if number < 1:
        raise argparse.ArgumentTypeError(f"not an id: {value!r}")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from exc
    if number < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return number


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options accepted both before and after the subcommand."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--url", default=default(None), help="server base URL (env GOVBOARD_URL)")
    parser.add_argument(
        "--token",
        default=default(None),
        help="service-account token (prefer env GOVBOARD_TOKEN: argv is visible to `ps`)",
    )
    parser.add_argument("--token-file", default=default(None), help="read the token from this file")
    parser.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print only JSON (no human line on stderr)",
    )
    parser.add_argument(
        "--http-timeout",
        type=_seconds,
        default=default(30.0),
        help="seconds per HTTP request (default 30)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=default(2),
        help="retries of idempotent requests on network errors, 429, 502-504 (default 2)",
    )


def _checks_wait_options(parser: argparse.ArgumentParser) -> None:
    """--wait/--no-wait, --timeout, --interval for the commands that start the checks."""
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait for the automated checks (default); --no-wait returns once the request "
        "is accepted (exit 0 unless the checks already block it)",
    )
    parser.add_argument("--timeout", type=_seconds, default=600.0, help="(default 600)")
    parser.add_argument("--interval", type=_seconds, default=5.0, help="(default 5)")


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="govboard",
        description="govboard CI client: register model versions, attach evidence, "
        "request promotion and wait for the board's decision.",
        epilog=_exit_code_epilog(),
        formatter_class=formatter,
    )
    _common_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=_exit_code_epilog(),
            formatter_class=formatter,
        )
        _common_options(command, suppress=True)
        return command

    reg = add(
        "register",
        "Register a model version (idempotent: the same version and checksum answer 200). "
        "With --kind/--owner/--backup-owner/--escalation-contact the model is created or "
        "updated first.",
    )
    reg.add_argument("--team")
    reg.add_argument("--model", help="registered model name")
    reg.add_argument("--version", help="semantic version, e.g. 1.4.0")
    source = reg.add_argument_group("artifact identity (one of)")
    source.add_argument("--artifact", metavar="PATH", help="compute the sha256 of this file")
    source.add_argument("--checksum", help="sha256 hex of the artifact")
    reg.add_argument("--storage-uri", help="where the artifact lives, e.g. s3://bucket/path/")
    reg.add_argument(
        "--metadata",
        metavar="FILE.json",
        help="JSON object with any version fields (and kind/owner/backup_owner/"
        "escalation_contact/description for the model); flags override it",
    )
    reg.add_argument("--license")
    reg.add_argument("--allowed-use-case", dest="allowed_use_cases", action="append")
    reg.add_argument("--prohibited-use-case", dest="prohibited_use_cases", action="append")
    reg.add_argument("--risk-rating", help=", ".join(RISK_RATINGS))
    reg.add_argument("--mitigation-control", dest="mitigation_controls", action="append")
    reg.add_argument("--source-commit")
    lock = reg.add_mutually_exclusive_group()
    lock.add_argument("--dependency-lock-hash")
    lock.add_argument("--dependency-lock", metavar="PATH", help="compute the lock file's sha256")
    reg.add_argument("--fine-tune-method", help=", ".join(FINE_TUNE_METHODS))
    reg.add_argument("--base-model-version", type=_positive_id, metavar="ID")
    reg.add_argument("--base-model-reference")
    reg.add_argument("--idempotency-key", help="default: derived from the payload")
    model = reg.add_argument_group("model (create/update before registering)")
    model.add_argument("--kind", choices=MODEL_KINDS)
    model.add_argument("--owner", help="username")
    model.add_argument("--backup-owner", help="username")
    model.add_argument("--escalation-contact", help="email")
    model.add_argument("--model-description", help="model description")

    dataset = add(
        "link-dataset",
        "Record a dataset (version and time window) a draft version was trained or evaluated "
        "on (idempotent: the same link answers 200). Promotion needs a train and an eval "
        "dataset (a prompt or config: an eval dataset).",
    )
    dataset.add_argument("--version", type=_positive_id, required=True, metavar="ID")
    dataset.add_argument(
        "--dataset", required=True, metavar="NAME", help="dataset name (lower-case slug)"
    )
    dataset.add_argument(
        "--dataset-version",
        required=True,
        metavar="LABEL",
        help="the dataset snapshot's label, e.g. 2026-10 (never changes once recorded)",
    )
    dataset.add_argument("--use", choices=DATASET_USES, required=True)
    dataset.add_argument(
        "--window-start",
        required=True,
        metavar="ISO8601",
        help="start of the data's time window, with a zone (e.g. 2026-06-01T00:00:00Z)",
    )
    dataset.add_argument("--window-end", required=True, metavar="ISO8601")
    dataset.add_argument("--uri", help="where the snapshot lives, e.g. s3://data/tickets/2026-10/")
    dataset.add_argument("--license", help="the licence the data is used under (SPDX id)")
    dataset.add_argument("--checksum", help="sha256 hex of the snapshot")
    dataset.add_argument(
        "--data-file", metavar="PATH", help="compute the snapshot's sha256 from this file"
    )

    upload = add("upload-evidence", "Attach an evidence file to a version.")
    upload.add_argument("--version", type=_positive_id, required=True, metavar="ID")
    upload.add_argument("--kind", choices=EVIDENCE_KINDS, required=True)
    upload.add_argument("--content-type", help="default: guessed from the file name")
    upload.add_argument("file", metavar="FILE")

    promote = add(
        "request-promotion",
        "Open a promotion request and wait for the automated checks: exit 0 in review, "
        "4 blocked by the checks (reasons on stderr), 3 still checking at --timeout.",
    )
    promote.add_argument("--version", type=_positive_id, required=True, metavar="ID")
    promote.add_argument("--rollback-target", type=_positive_id, metavar="ID")
    promote.add_argument("--rollback-plan")
    _checks_wait_options(promote)

    recheck = add(
        "recheck",
        "Re-run the automated checks of an open request (e.g. after new evidence) and wait "
        "for them: exit 0 in review, 4 blocked, 3 still checking at --timeout.",
    )
    recheck.add_argument("--request", type=_positive_id, required=True, metavar="ID")
    _checks_wait_options(recheck)

    withdraw = add(
        "withdraw",
        "Withdraw an open promotion request (the version returns to draft); exit 0 once "
        "withdrawn, 5 if the request is already decided.",
    )
    withdraw.add_argument("--request", type=_positive_id, required=True, metavar="ID")

    status = add(
        "status",
        "Show a version's or a request's state; exit 0 approved, 3 pending, 4 blocked.",
    )
    which = status.add_mutually_exclusive_group(required=True)
    which.add_argument("--version", type=_positive_id, metavar="ID")
    which.add_argument("--request", type=_positive_id, metavar="ID")
    status.add_argument("--wait", action="store_true", help="poll until approved or blocked")
    status.add_argument("--timeout", type=_seconds, default=3600.0, help="(default 3600)")
    status.add_argument("--interval", type=_seconds, default=15.0, help="(default 15)")

    decision = add("decision", "Fetch the signed decision record (DSSE envelope).")
    decision.add_argument("--request", type=_positive_id, required=True, metavar="ID")
    decision.add_argument("--output", "-o", metavar="FILE")

    deploy = add("record-deployment", "Record that a version serves an environment.")
    deploy.add_argument("--version", type=_positive_id, required=True, metavar="ID")
    deploy.add_argument("--environment", required=True)
    deploy.add_argument("--ring")
    deploy.add_argument("--customer-scope")
    deploy.add_argument("--started-at", default="now", help="ISO 8601 with zone (default now)")
    deploy.add_argument("--ended-at")
    deploy.add_argument("--release", type=_positive_id, metavar="ID", help="needed with --ring")

    release = add("release", "Submit a release, read it, request its next ring.")
    release_sub = release.add_subparsers(dest="release_command", metavar="ACTION", required=True)
    create = release_sub.add_parser("create", help="Submit a release from a JSON file.")
    _common_options(create, suppress=True)
    create.add_argument("--file", required=True, metavar="FILE", help="the release as JSON")
    create.add_argument("--idempotency-key", help="default: derived from the payload")
    show = release_sub.add_parser("show", help="A release's notes, components, categories, rings.")
    _common_options(show, suppress=True)
    show.add_argument("release", type=_positive_id, metavar="ID")
    promote_ring = release_sub.add_parser(
        "promote", help="Request entry to a ring and wait for the automated checks."
    )
    _common_options(promote_ring, suppress=True)
    promote_ring.add_argument("release", type=_positive_id, metavar="ID")
    promote_ring.add_argument("--environment", required=True)
    promote_ring.add_argument("--ring", required=True)
    _checks_wait_options(promote_ring)
    rings = release_sub.add_parser("rings", help="The release's ring state per environment.")
    _common_options(rings, suppress=True)
    rings.add_argument("release", type=_positive_id, metavar="ID")
    monitor = release_sub.add_parser(
        "monitor", help="Upload a monitoring report of a deployed release (JSON file)."
    )
    _common_options(monitor, suppress=True)
    monitor.add_argument("release", type=_positive_id, metavar="ID")
    monitor.add_argument("--environment", required=True)
    monitor.add_argument("--ring", required=True)
    monitor.add_argument("--file", required=True, metavar="FILE", help="the report as JSON")
    monitor.add_argument("--idempotency-key", help="default: derived from the report")
    return parser
