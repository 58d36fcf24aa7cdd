"""What a command prints: one human line on stderr (unless --json), the JSON on stdout."""

from __future__ import annotations

import json
import sys
from typing import Any


class Output:
    """stderr gets the human line (unless --json), stdout the JSON."""

    def __init__(self, *, json_only: bool, stdout: Any = None, stderr: Any = None) -> None:
        self.json_only = json_only
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    def say(self, message: str) -> None:
        if not self.json_only:
            print(message, file=self.stderr, flush=True)

    def data(self, value: Any) -> None:
        print(json.dumps(value, indent=2, sort_keys=False, default=str), file=self.stdout)
        self.stdout.flush()

    def reasons(self, reasons: list[str]) -> None:
        """Why something is blocked, one indented line each."""
        for reason in reasons or ["(the server gave no reason)"]:
            self.say(f"  - {reason}")
