"""``govboard status`` and ``govboard decision``: what the board decided."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

from ..client import Client
from ..errors import UsageError
from ..exit_codes import EXIT_BLOCKED, EXIT_OK, EXIT_PENDING
from ..outcomes import reasons, request_outcome, version_outcome
from ..output import Output
from ..states import BLOCKED_VERSION_STATES
from ..waiting import poll


def _fetch_status(client: Client, args: argparse.Namespace) -> tuple[int, dict[str, Any], Any]:
    """(exit code, the body to print, the request that decides it)."""
    if args.request is not None:
        request = client.get(f"promotion-requests/{args.request}/")
        return request_outcome(request), request, request
    version = client.get(f"versions/{args.version}/")
    code, latest = version_outcome(version)
    return code, version, latest


def _describe(body: dict[str, Any], latest: Any, args: argparse.Namespace) -> str:
    if args.request is not None:
        return f"promotion request {body.get('id')} is {body.get('state')}"
    text = f"version {body.get('id')} is {body.get('state')}"
    if isinstance(latest, dict):
        text += f"; latest promotion request {latest.get('id')} is {latest.get('state')}"
    else:
        text += "; no promotion request yet"
    return text


def cmd_status(client: Client, args: argparse.Namespace, out: Output) -> int:
    (code, body, latest), timed_out = poll(
        lambda: _fetch_status(client, args),
        settled=lambda result: result[0] != EXIT_PENDING,
        describe=lambda result: _describe(result[1], result[2], args),
        out=out,
        wait=args.wait,
        timeout=args.timeout,
        interval=args.interval,
    )
    line = _describe(body, latest, args)
    if timed_out:
        line += f" (still pending after {args.timeout:g}s)"
    out.say(line)
    if code == EXIT_BLOCKED:
        found = reasons(latest) if isinstance(latest, dict) else []
        if not found and body.get("state") in BLOCKED_VERSION_STATES:
            found = [f"the version is {body.get('state')}"]
        out.reasons(found)
    out.data(body)
    return code


def cmd_decision(client: Client, args: argparse.Namespace, out: Output) -> int:
    response = client.request("GET", f"promotion-requests/{args.request}/decision/")
    envelope = response.json()  # validates that it is JSON
    if args.output:
        try:
            Path(args.output).write_bytes(response.body)
        except OSError as exc:
            raise UsageError(f"Cannot write {args.output}: {exc}") from exc
        digest = hashlib.sha256(response.body).hexdigest()
        out.say(f"decision record of request {args.request} written to {args.output}")
        out.data(
            {
                "request": args.request,
                "output": args.output,
                "sha256": digest,
                "bytes": len(response.body),
            }
        )
    else:
        out.say(f"decision record of request {args.request}")
        out.data(envelope)
    return EXIT_OK
