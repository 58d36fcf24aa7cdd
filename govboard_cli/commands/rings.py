"""``govboard release promote`` and ``govboard release rings``: a release's rings from CI
(issue 13). A ring request is a promotion request, so ``promote`` waits for its checks the
way ``request-promotion`` does."""

from __future__ import annotations

import argparse
from typing import Any

from ..client import Client
from ..exit_codes import EXIT_OK
from ..output import Output
from .promotion import await_checks


def cmd_release_promote(client: Client, args: argparse.Namespace, out: Output) -> int:
    payload: dict[str, Any] = {"environment": args.environment, "ring": args.ring}
    request = client.request("POST", f"releases/{args.release}/rings/", json_body=payload).json()
    out.say(
        f"release {args.release}: promotion request {request.get('id')} for {args.ring} "
        f"in {args.environment}"
    )
    return await_checks(client, args, out, request)


def cmd_release_rings(client: Client, args: argparse.Namespace, out: Output) -> int:
    state = client.get(f"releases/{args.release}/rings/")
    for environment in state.get("environments", []):
        entered = ", ".join(e["ring"] for e in environment.get("entered", [])) or "none"
        line = f"{environment['environment']}: entered {entered}"
        upcoming = environment.get("next_ring")
        if upcoming:
            line += f"; next {upcoming}"
            blocked = environment.get("blocked_by") or []
            if blocked:
                line += " blocked by " + ", ".join(b["check"] for b in blocked)
        out.say(line)
    out.data(state)
    return EXIT_OK


RELEASE_COMMANDS = {"promote": cmd_release_promote, "rings": cmd_release_rings}


def cmd_release(client: Client, args: argparse.Namespace, out: Output) -> int:
    return RELEASE_COMMANDS[args.release_command](client, args, out)
