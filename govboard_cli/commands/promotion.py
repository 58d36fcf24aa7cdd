"""``govboard request-promotion``, ``recheck`` and ``withdraw``: a promotion request's
life from CI, waiting for the automated checks where they run."""

from __future__ import annotations

import argparse
from typing import Any

from ..client import Client
from ..exit_codes import EXIT_BLOCKED, EXIT_OK
from ..outcomes import checks_outcome, reasons, request_outcome
from ..output import Output
from ..states import CHECKING_STATES, REVIEW_STATES, WITHDRAWN
from ..waiting import poll


def await_checks(
    client: Client, args: argparse.Namespace, out: Output, request: dict[str, Any]
) -> int:
    """Wait (unless --no-wait) until the automated checks have judged ``request``, then
    report it: the human line and reasons on stderr, the request's JSON on stdout."""
    request_id = request.get("id")
    request, timed_out = poll(
        lambda: client.get(f"promotion-requests/{request_id}/"),
        settled=lambda body: body.get("state") not in CHECKING_STATES,
        describe=lambda body: (
            f"promotion request {body.get('id')} is {body.get('state')}: "
            "the automated checks have not finished"
        ),
        out=out,
        wait=args.wait,
        timeout=args.timeout,
        interval=args.interval,
        first=request,
    )
    code = checks_outcome(request, waited=args.wait)
    state = request.get("state")
    line = f"promotion request {request.get('id')} is {state}"
    if state in REVIEW_STATES:
        line += ": the automated checks passed; waiting for the board"
    elif timed_out:
        line += (
            f": the checks had not finished after {args.timeout:g}s "
            f"(follow with: govboard status --request {request.get('id')} --wait)"
        )
    elif state in CHECKING_STATES:
        line += (
            ": the checks run in the background "
            f"(follow with: govboard status --request {request.get('id')} --wait)"
        )
    out.say(line)
    if code == EXIT_BLOCKED:
        out.reasons(reasons(request))
    out.data(request)
    return code


def cmd_request_promotion(client: Client, args: argparse.Namespace, out: Output) -> int:
    payload: dict[str, Any] = {"version": args.version}
    if args.rollback_target is not None:
        payload["rollback_target"] = args.rollback_target
    if args.rollback_plan is not None:
        payload["rollback_plan"] = args.rollback_plan
    request = client.request("POST", "promotion-requests/", json_body=payload).json()
    return await_checks(client, args, out, request)


def cmd_recheck(client: Client, args: argparse.Namespace, out: Output) -> int:
    response = client.request("POST", f"promotion-requests/{args.request}/recheck/", retry=False)
    out.say(f"checks of promotion request {args.request} restarted")
    return await_checks(client, args, out, response.json())


def cmd_withdraw(client: Client, args: argparse.Namespace, out: Output) -> int:
    request = client.request(
        "POST", f"promotion-requests/{args.request}/withdraw/", retry=False
    ).json()
    state = request.get("state")
    out.say(f"promotion request {request.get('id', args.request)} is {state}")
    out.data(request)
    # The request is withdrawn as asked: success. (A decided request is a 409: exit 5.)
    return EXIT_OK if state == WITHDRAWN else request_outcome(request)
