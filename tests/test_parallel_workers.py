"""The suite on several pytest-xdist workers: each worker's own Redis database, and the
database turn a many-connections test takes alone."""

from __future__ import annotations

import fcntl
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from govboard.settings.test import _worker_redis_url
from tests import parallel_workers

ROOT = Path(__file__).resolve().parents[1]


def test_each_worker_gets_the_redis_database_its_number_above_the_configured_one():
    assert _worker_redis_url("redis://127.0.0.1:6379/9", 1) == "redis://127.0.0.1:6379/10"
    assert _worker_redis_url("redis://127.0.0.1:6379", 3) == "redis://127.0.0.1:6379/3"
    assert (
        _worker_redis_url("redis://:secret@cache.internal:6380/2?timeout=1", 2)
        == "redis://:secret@cache.internal:6380/4?timeout=1"
    )


def test_a_worker_past_redis_database_15_is_refused_with_a_clear_message():
    with pytest.raises(RuntimeError, match="leaves no Redis database for test worker 3"):
        _worker_redis_url("redis://127.0.0.1:6379/13", 3)


def _lock_is_free(path: Path, mode: int) -> bool:
    with path.open("a+") as probe:
        try:
            fcntl.flock(probe, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(probe, fcntl.LOCK_UN)
        return True


def _hold_the_turn(run_id: str, *, exclusive: bool) -> subprocess.Popen:
    """Another worker of run ``run_id`` holding its turn until its stdin closes."""
    code = textwrap.dedent(
        f"""
        import sys
        from tests.parallel_workers import database_turn
        with database_turn(exclusive={exclusive}):
            print("held", flush=True)
            sys.stdin.read()
        """
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTEST_XDIST_TESTRUNUID": run_id, "PATH": "/usr/bin:/bin"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout.readline().strip() == "held"
    return worker


@pytest.mark.parametrize("exclusive", [True, False])
def test_a_many_connections_test_runs_only_while_no_other_test_of_its_run_does(tmp_path, exclusive):
    # Given another worker of a run of our own holding its turn, alone or shared
    run_id = f"probe-{uuid.uuid4().hex}"
    turn = Path(parallel_workers.tempfile.gettempdir()) / f"govboard-tests-{run_id}.turn"
    worker = _hold_the_turn(run_id, exclusive=exclusive)
    try:
        # Then an ordinary test may run beside a shared turn, never beside an exclusive one,
        # and a many-connections test beside neither
        assert _lock_is_free(turn, fcntl.LOCK_SH) is (not exclusive)
        assert not _lock_is_free(turn, fcntl.LOCK_EX)
    finally:
        worker.stdin.close()
        worker.wait(timeout=30)
    # And once it ends, the turn is free for anyone
    assert _lock_is_free(turn, fcntl.LOCK_EX)
    turn.unlink()
    turn.with_suffix(".gate").unlink()
