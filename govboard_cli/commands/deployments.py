"""``govboard record-deployment``: which version serves which environment, from when."""

from __future__ import annotations

import argparse
from typing import Any

from ..client import Client
from ..exit_codes import EXIT_OK
from ..inputs import timestamp
from ..output import Output


def cmd_record_deployment(client: Client, args: argparse.Namespace, out: Output) -> int:
    payload: dict[str, Any] = {
        "version": args.version,
        "environment": args.environment,
        "started_at": timestamp(args.started_at, "--started-at"),
    }
    optional = {
        "ring": args.ring,
        "release": args.release,
        "customer_scope": args.customer_scope,
        "ended_at": timestamp(args.ended_at, "--ended-at"),
    }
    payload.update({key: value for key, value in optional.items() if value is not None})
    deployment = client.request("POST", "deployments/", json_body=payload).json()
    out.say(
        f"deployment of version {args.version} to {args.environment} recorded: "
        f"id {deployment.get('id')}"
    )
    out.data(deployment)
    return EXIT_OK
