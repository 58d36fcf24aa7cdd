"""Publishing to the broker after commit, without ever making a request wait on it.

Every ``.delay()`` the services make is a nudge: the work it asks for is already recorded
in the database (an outbox row, a request in ``submitted``) and a periodic job finds it
anyway. So a failed publish is logged and forgotten, and after one failure the next
nudges are skipped for ``BACKOFF_SECONDS``: with the broker down, each request pays at
most one bounded connect timeout (``CELERY_BROKER_CONNECTION_TIMEOUT`` and the transport's
socket timeouts in settings), not one per nudge, and most pay none.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)

BACKOFF_SECONDS = 15.0

_lock = threading.Lock()
_broker_failed_at: float | None = None


def broker_recently_failed() -> bool:
    """True while the last publish failed less than ``BACKOFF_SECONDS`` ago."""
    failed_at = _broker_failed_at
    return failed_at is not None and time.monotonic() - failed_at < BACKOFF_SECONDS


def forget_broker_failure() -> None:
    """Publish again at the next nudge (a test that restarts the broker, a health probe
    that found it answering again)."""
    global _broker_failed_at
    with _lock:
        _broker_failed_at = None


def publish_now(send: Callable[[], object], *, what: str) -> bool:
    """Call ``send`` (a ``.delay()``); False, logged, when the broker refused or timed
    out, or failed moments ago. Never raises: the outbox covers the loss."""
    global _broker_failed_at
    if broker_recently_failed():
        logger.info("Broker failed moments ago; not publishing %s (the beat relays it).", what)
        return False
    try:
        send()
    except Exception as exc:  # any transport error: the database row is the record
        with _lock:
            _broker_failed_at = time.monotonic()
        logger.warning("Could not publish %s (%s); the periodic relay will.", what, exc)
        return False
    return True


def publish_on_commit(send: Callable[[], object], *, what: str) -> None:
    """``publish_now`` once the current transaction commits (never on rollback)."""
    transaction.on_commit(lambda: publish_now(send, what=what))
