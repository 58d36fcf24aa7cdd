"""``govboard release create|show|promote|rings``: a release and its rings from CI
(issue 13). ``create`` posts a release file with an Idempotency-Key the way ``register``
does; a ring request is a promotion request, so ``promote`` waits for its checks the way
``request-promotion`` does."""

from __future__ import annotations

import argparse
from typing import Any

from ..client import Client, idempotency_key_for
from ..exit_codes import EXIT_OK
from ..inputs import load_metadata
from ..output import Output
from .promotion import await_checks


def cmd_release_create(client: Client, args: argparse.Namespace, out: Output) -> int:
    payload = load_metadata(args.file, "release file")
    key = args.idempotency_key or idempotency_key_for(payload)
    response = client.request(
        "POST", "releases/", json_body=payload, headers={"Idempotency-Key": key}
    )
    release = response.json()
    out.say(
        f"release {release.get('name')} {release.get('version')}: id {release.get('id')}, "
        f"changes {_categories(release)}"
    )
    out.data(release)
    return EXIT_OK


def cmd_release_show(client: Client, args: argparse.Namespace, out: Output) -> int:
    release = client.get(f"releases/{args.release}/")
    out.say(
        f"release {release.get('id')} {release.get('name')} {release.get('version')} "
        f"({release.get('state')}): changes {_categories(release)}"
    )
    notes = release.get("notes") or {}
    out.say(f"  what changed: {notes.get('what_changed', '')}")
    out.say(f"  rollback owner: {notes.get('rollback_owner', '')}")
    for component in release.get("components") or []:
        out.say(f"  component {component.get('kind')}: {_pinned(component)}")
    rings = release.get("ring_state") or []
    out.say(
        "  rings: "
        + (", ".join(f"{r['environment']}/{r['ring']}" for r in rings) or "none entered")
    )
    out.data(release)
    return EXIT_OK


def _categories(release: dict[str, Any]) -> str:
    return ", ".join(release.get("categories") or []) or "none"


def _pinned(component: dict[str, Any]) -> str:
    """What a manifest entry pins: its name and version."""
    return f"{component.get('name', '?')} {component.get('version', '?')}"


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


def cmd_release_monitor(client: Client, args: argparse.Namespace, out: Output) -> int:
    """Upload one monitoring report; the server evaluates the rollback triggers on it."""
    report = load_metadata(args.file, "monitoring report file")
    payload = report | {"environment": args.environment, "ring": args.ring}
    key = args.idempotency_key or idempotency_key_for(payload)
    stored = client.request(
        "POST",
        f"releases/{args.release}/monitoring-reports/",
        json_body=payload,
        headers={"Idempotency-Key": key},
    ).json()
    breaches = stored.get("breaches") or []
    line = f"release {args.release}: monitoring report {stored.get('id')}, {len(breaches)} breach"
    line += "es" if len(breaches) != 1 else ""
    if stored.get("incident"):
        line += f"; incident INC-{stored['incident']} opened"
    out.say(line)
    out.data(stored)
    return EXIT_OK


RELEASE_COMMANDS = {
    "monitor": cmd_release_monitor,
    "create": cmd_release_create,
    "show": cmd_release_show,
    "promote": cmd_release_promote,
    "rings": cmd_release_rings,
}


def cmd_release(client: Client, args: argparse.Namespace, out: Output) -> int:
    return RELEASE_COMMANDS[args.release_command](client, args, out)
