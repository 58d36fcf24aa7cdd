"""JOB-3 (issue 12): the Redis of the test's own (broker and cache) is stopped under load
and started again on the same port. No request hangs (each answers within a generous
client timeout; the max latency is reported), none answers 5xx, ``/health/`` says
degraded then ok, and every webhook delivery written during the outage is delivered
after the restart, by a real worker, exactly once."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests
from django.conf import settings
from django.db import close_old_connections, connection
from django.test import override_settings

from approvals import services
from approvals.choices import DeliveryState
from approvals.models import WebhookDelivery
from approvals.tasks import relay_outbox
from core.publishing import forget_broker_failure
from tests.approvals.factories import WebhookEndpointFactory
from tests.celery_worker import ROOT, WORKER_COMMAND, worker_env
from tests.govboard.own_redis import own_broker
from tests.registry.factories import (
    ModelVersionFactory,
    TeamFactory,
    approver,
    ready_version,
    service_account_with_token,
)

pytestmark = [
    pytest.mark.jobs,
    pytest.mark.skipif(
        not settings.CELERY_BROKER_URL.startswith("redis")
        or settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)",
    ),
]

CLIENTS = 8
PHASE_SECONDS = 4.0
#: The definition of "hung": no answer within this many seconds (not a performance bound).
HUNG_SECONDS = 10.0


@dataclass
class Load:
    """What the clients saw, per phase (up, down, back)."""

    phase: str = "up"
    stop: threading.Event = field(default_factory=threading.Event)
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"up": [], "down": [], "back": []}
    )
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    deprecated: dict[str, list[int]] = field(
        default_factory=lambda: {"up": [], "down": [], "back": []}
    )
    lock: threading.Lock = field(default_factory=threading.Lock)


class Receiver(http.server.BaseHTTPRequestHandler):
    """The webhook endpoint: records the event id of every delivery it accepts."""

    received: Counter = Counter()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received[json.loads(body)["event_id"]] += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def _client(load: Load, base: str, number: int, session_cookie: str, token: str, drafts):
    """One client: admin pages as the signed-in approver, API reads and CI's submits."""
    browser = requests.Session()
    browser.cookies.set(settings.SESSION_COOKIE_NAME, session_cookie)
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    calls = [
        lambda: browser.get(f"{base}/admin/", timeout=HUNG_SECONDS),
        lambda: browser.get(f"{base}/admin/approvals/promotionrequest/", timeout=HUNG_SECONDS),
        lambda: api.get(f"{base}/api/v1/promotion-requests/", timeout=HUNG_SECONDS),
        lambda: api.get(f"{base}/api/v1/versions/", timeout=HUNG_SECONDS),
    ]
    turn = number
    while not load.stop.is_set():
        turn += 1
        call = calls[turn % len(calls)]
        if turn % 3 == 0:
            with load.lock:
                draft = drafts.pop() if drafts else None
            if draft is not None:

                def call(draft=draft):
                    return api.post(
                        f"{base}/api/v1/promotion-requests/",
                        json={"version": draft},
                        timeout=HUNG_SECONDS,
                    )

        phase, started = load.phase, time.monotonic()
        try:
            status = call().status_code
        except requests.RequestException as exc:  # a timeout is a hung request
            with load.lock:
                load.failures.append(f"{phase}: {type(exc).__name__}")
            continue
        with load.lock:
            load.latencies[phase].append(time.monotonic() - started)
            load.statuses[status] += 1


def _scheduler(load: Load, approved: list[int]) -> None:
    """The lifecycle job deprecating versions meanwhile: each writes one webhook delivery
    to the outbox and nudges the relay on commit (a nudge that fails while Redis is down)."""
    try:
        while not load.stop.is_set() and approved:
            version_id, phase = approved.pop(), load.phase
            services.version_deprecate(
                actor=None, version=version_id, reason="JOB-3 load", via="system:task job3"
            )
            load.deprecated[phase].append(version_id)
            time.sleep(0.1)
    finally:
        close_old_connections()
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_with_redis_stopped_under_load_nothing_hangs_and_the_outbox_is_delivered_after(
    live_server, client
):
    # Given a webhook endpoint that listens, CI's token, an approver signed in, drafts to
    # submit and approved versions for the lifecycle job to deprecate
    Receiver.received = Counter()
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    WebhookEndpointFactory(url=f"http://127.0.0.1:{hook.server_address[1]}/hook")
    team = TeamFactory()
    _, token = service_account_with_token(teams=[team])
    client.force_login(approver(team, "platform"))
    session_cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    drafts = [ready_version(registered_model__team=team).pk for _ in range(30)]
    approved = [
        ModelVersionFactory(state="approved", registered_model__team=team).pk for _ in range(40)
    ]
    load = Load()

    with (
        own_broker() as redis_server,
        override_settings(
            CACHES={
                "default": {
                    "BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": redis_server.url,
                    "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
                }
            }
        ),
    ):
        base = live_server.url
        threads = [
            threading.Thread(
                target=_client, args=(load, base, n, session_cookie, token, drafts), daemon=True
            )
            for n in range(CLIENTS)
        ] + [threading.Thread(target=_scheduler, args=(load, approved), daemon=True)]
        for thread in threads:
            thread.start()

        # When the load runs with Redis up, then Redis is stopped
        time.sleep(PHASE_SECONDS)
        redis_server.stop()
        load.phase = "down"
        time.sleep(PHASE_SECONDS)

        # Then health answers 200 and degraded
        health = requests.get(f"{base}/health/", timeout=HUNG_SECONDS)
        assert health.status_code == 200
        assert health.json()["status"] == "degraded"

        # When Redis starts again on the same port and the load goes on
        redis_server.start()
        health = requests.get(f"{base}/health/", timeout=HUNG_SECONDS).json()
        load.phase = "back"
        time.sleep(PHASE_SECONDS)
        load.stop.set()
        for thread in threads:
            thread.join(timeout=HUNG_SECONDS + 5)

        # Then health says ok again
        assert health["status"] == "ok", health

        # And a real worker relays the outbox once Redis is back
        forget_broker_failure()
        env = worker_env(broker_url=redis_server.url, database=connection.settings_dict)
        worker = subprocess.Popen(
            WORKER_COMMAND, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            relay_outbox.delay()
            deadline = time.monotonic() + 30
            pending = WebhookDelivery.objects.exclude(state=DeliveryState.DELIVERED)
            while time.monotonic() < deadline and pending.exists():
                time.sleep(0.3)
            relay_outbox.delay()  # the next beat finds nothing left to send
            time.sleep(1.0)
        finally:
            worker.terminate()
            output = worker.communicate(timeout=20)[0].decode()
    hook.shutdown()

    latencies = {phase: max(values, default=0.0) for phase, values in load.latencies.items()}
    total = sum(load.statuses.values()) + len(load.failures)
    server_errors = sum(n for status, n in load.statuses.items() if status >= 500)
    outage = set(load.deprecated["down"])
    during = [
        d for d in WebhookDelivery.objects.all() if d.payload["model"]["version_id"] in outage
    ]
    delivered_once = [d for d in during if Receiver.received[d.event_id] == 1]
    print(
        f"\nJOB-3: requests {total} ({dict(load.statuses)}), max latency "
        f"up {latencies['up']:.2f} s / down {latencies['down']:.2f} s / back "
        f"{latencies['back']:.2f} s, 5xx={server_errors}, hung={len(load.failures)}; "
        f"outbox rows written during the outage {len(during)}, delivered once "
        f"{len(delivered_once)}; all rows {WebhookDelivery.objects.count()}, deliveries "
        f"received {sum(Receiver.received.values())}"
    )

    # Then every request was answered, none with 5xx, in every phase
    assert load.failures == []
    assert server_errors == 0
    assert all(load.latencies[phase] for phase in ("up", "down", "back"))
    # And the outbox rows written during the outage were delivered after it, exactly once
    assert during, "the lifecycle job wrote nothing while Redis was down"
    assert len(delivered_once) == len(during), output
    assert all(n == 1 for n in Receiver.received.values())
    assert not WebhookDelivery.objects.exclude(state=DeliveryState.DELIVERED).exists(), output
