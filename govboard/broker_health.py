"""Is the broker usable, and is it configured so that it cannot lose tasks?

Two questions, asked by ``/health/`` (at every probe) and at startup (a Django system
check, run by ``runserver``, ``migrate`` and ``check``; and Celery's ``worker_init`` and
``beat_init`` in ``govboard/celery.py``):

- Redis must not evict keys (``maxmemory-policy noeviction``): under memory pressure any
  other policy silently drops queued tasks and the unacknowledged-message bookkeeping.
- The broker's visibility timeout must outlast the longest task: with ``acks_late`` a task
  still running when the timeout ends is handed to a second worker and runs twice.

A broker that does not answer is not a configuration error: the application runs
degraded (the outbox holds the side effects) and says so; only a broker that answers
with a dangerous configuration is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core import checks

#: kombu's Redis default when ``visibility_timeout`` is not set.
KOMBU_DEFAULT_VISIBILITY_TIMEOUT = 3600
PROBE_TIMEOUT_SECONDS = 0.5


@dataclass
class BrokerState:
    """What a probe found: reachable or not, and every configuration problem."""

    reachable: bool
    problems: list[str] = field(default_factory=list)
    unreachable_reason: str = ""

    @property
    def reasons(self) -> list[str]:
        return ([self.unreachable_reason] if not self.reachable else []) + self.problems


def redacted(url: str) -> str:
    """The broker URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, ""))


def longest_task_seconds() -> float:
    """The longest hard time limit any task may run: the global limit or a task's own."""
    from govboard.celery import app

    limits = [float(settings.CELERY_TASK_TIME_LIMIT or 0)]
    limits += [float(task.time_limit) for task in app.tasks.values() if task.time_limit]
    return max(limits)


def visibility_timeout() -> float:
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
    return float(options.get("visibility_timeout", KOMBU_DEFAULT_VISIBILITY_TIMEOUT))


def probe(url: str | None = None) -> BrokerState:
    """Ping the broker with bounded timeouts and read its eviction policy."""
    url = url or settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return BrokerState(reachable=True)
    import redis

    client = redis.Redis.from_url(
        url, socket_timeout=PROBE_TIMEOUT_SECONDS, socket_connect_timeout=PROBE_TIMEOUT_SECONDS
    )
    state = BrokerState(reachable=True)
    try:
        client.ping()
    except redis.RedisError as exc:
        return BrokerState(
            reachable=False,
            unreachable_reason=f"broker unreachable at {redacted(url)}: {exc}",
        )
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.RedisError as exc:
        # Managed Redis services may forbid CONFIG: said, not guessed.
        state.problems.append(
            f"cannot read maxmemory-policy of the broker at {redacted(url)} ({exc}); "
            "it must be noeviction"
        )
    else:
        if policy != "noeviction":
            state.problems.append(
                f"the broker Redis at {redacted(url)} has maxmemory-policy {policy!r}: it may "
                "evict queued tasks. Set `maxmemory-policy noeviction` in redis.conf "
                "(or CONFIG SET maxmemory-policy noeviction)."
            )
    finally:
        client.close()
    longest, timeout = longest_task_seconds(), visibility_timeout()
    if timeout < longest:
        state.problems.append(
            f"the broker's visibility_timeout ({timeout:g} s) is shorter than the longest "
            f"task time limit ({longest:g} s): a task still running would be delivered again. "
            "Raise CELERY_VISIBILITY_TIMEOUT above the longest CELERY_TASK_TIME_LIMIT."
        )
    return state


def refusal(state: BrokerState) -> str | None:
    """The message a process refuses to start with, or None when it may start."""
    if not state.problems:
        return None
    return "Refusing to start: " + "; ".join(state.problems)


def check_broker_configuration(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The Django system check: an error for each dangerous setting of a reachable broker,
    a warning (not an error: the app runs degraded) for one that does not answer."""
    state = probe()
    if not state.reachable:
        return [checks.Warning(state.unreachable_reason, id="govboard.W010")]
    return [checks.Error(problem, id="govboard.E010") for problem in state.problems]


def refuse_misconfigured_broker(**kwargs: Any) -> None:
    """Celery ``worker_init``/``beat_init``: a worker or beat never starts on a broker
    that could lose or duplicate tasks."""
    message = refusal(probe())
    if message:
        raise SystemExit(message)
