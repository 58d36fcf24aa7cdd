"""Polling the server until an answer settles, within a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from .errors import ApiError
from .exit_codes import EXIT_SERVER
from .output import Output

T = TypeVar("T")


def pause(seconds: float) -> None:
    """Sleep between polls (one place, so a test can stand in a worker here)."""
    time.sleep(seconds)


def poll(
    fetch: Callable[[], T],
    *,
    settled: Callable[[T], bool],
    describe: Callable[[T], str],
    out: Output,
    wait: bool,
    timeout: float,
    interval: float,
    first: T | None = None,
) -> tuple[T, bool]:
    """Fetch until ``settled(result)``, at most ``timeout`` seconds; once without ``wait``.

    ``first`` is a result already in hand (e.g. the answer to a POST). While waiting, a
    transient server or network failure (exit 9) is retried until the deadline. Returns
    the last result and whether the deadline ran out before it settled.
    """
    deadline = time.monotonic() + timeout
    last_line = None
    result = first
    while True:
        if result is None:
            try:
                result = fetch()
            except ApiError as exc:
                if not (wait and exc.exit_code == EXIT_SERVER and time.monotonic() < deadline):
                    raise
                out.say(f"{exc.message}; retrying")
                pause(min(interval, max(0.0, deadline - time.monotonic())))
                continue
        if settled(result) or not wait:
            return result, False
        if time.monotonic() >= deadline:
            return result, True
        line = describe(result)
        if line != last_line:
            out.say(line + " — waiting")
            last_line = line
        pause(min(interval, max(0.0, deadline - time.monotonic())))
        result = None
