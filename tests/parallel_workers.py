"""Running the suite on several pytest-xdist workers without one test starving another.

PostgreSQL here allows 100 connections in all. A test that opens dozens at once (SEC-3's
100 parallel logins, CON-1's 50 sign-offs) would take the connection another worker's test
needs, which then fails for a reason of no concern to it. Such tests are marked
``many_connections`` and run while no other test of the run does: every test holds a shared
lock, a marked one the exclusive lock, and a gate taken first keeps a waiting marked test
from being overtaken forever by the other workers' next tests.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import IO

#: Set by pytest-xdist in each worker: the same for every worker of one run.
RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")


@cache
def _lock_file(role: str) -> IO[str]:
    # Opened once per worker and kept open: the lock belongs to the open file.
    path = Path(tempfile.gettempdir()) / f"govboard-tests-{RUN_ID}.{role}"
    return path.open("a+")


@contextmanager
def database_turn(*, exclusive: bool) -> Iterator[None]:
    """Hold this run's database turn for the block: shared, or alone when ``exclusive``.
    Outside pytest-xdist there is only one worker, and nothing to wait for."""
    if not RUN_ID:
        yield
        return
    gate, turn = _lock_file("gate"), _lock_file("turn")
    fcntl.flock(gate, fcntl.LOCK_EX)
    try:
        fcntl.flock(turn, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    finally:
        if not exclusive:
            fcntl.flock(gate, fcntl.LOCK_UN)
    try:
        yield
    finally:
        fcntl.flock(turn, fcntl.LOCK_UN)
        if exclusive:
            fcntl.flock(gate, fcntl.LOCK_UN)
