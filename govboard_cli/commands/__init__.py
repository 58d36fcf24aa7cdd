"""The client's commands, by name: each takes the client, the parsed flags and the output,
and returns the exit code."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ..client import Client
from ..output import Output
from .deployments import cmd_record_deployment
from .evidence import cmd_link_dataset, cmd_upload_evidence
from .promotion import cmd_recheck, cmd_request_promotion, cmd_withdraw
from .register import cmd_register
from .rings import cmd_release
from .status import cmd_decision, cmd_status

Command = Callable[[Client, argparse.Namespace, Output], int]

COMMANDS: dict[str, Command] = {
    "register": cmd_register,
    "link-dataset": cmd_link_dataset,
    "upload-evidence": cmd_upload_evidence,
    "request-promotion": cmd_request_promotion,
    "recheck": cmd_recheck,
    "withdraw": cmd_withdraw,
    "status": cmd_status,
    "decision": cmd_decision,
    "record-deployment": cmd_record_deployment,
    "release": cmd_release,
}

__all__ = ["COMMANDS", "Command"]
