"""JOB-3 in small: with the broker (a Redis of the test's own) stopped, the UI and the API
keep answering, nothing waits on ``.delay()``, ``/health/`` says degraded and why; a
change committed meanwhile is notified once Redis returns, by a real worker, over real
SMTP (a local sink)."""

from __future__ import annotations

import subprocess
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core import mail
from django.db import connection
from django.utils import timezone

from approvals import services
from approvals.choices import DeliveryState
from approvals.models import Notification, PromotionRequest
from approvals.tasks import relay_outbox
from core.publishing import forget_broker_failure
from tests.approvals.factories import attach_passing_evidence, board_policy
from tests.celery_worker import ROOT, WORKER_COMMAND, worker_env
from tests.govboard.own_redis import own_broker
from tests.registry.factories import (
    ModelVersionFactory,
    ready_version,
    service_account_with_token,
)
from tests.smtp_sink import start_sink

pytestmark = pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis")
    or settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)",
)


@pytest.fixture
def broker():
    with own_broker() as server:
        yield server


def _expiring_version():
    return ModelVersionFactory(
        state="approved", approval_expires_at=timezone.now() + timedelta(days=5)
    )


@pytest.mark.django_db
def test_with_redis_down_the_ui_and_api_answer_and_health_says_degraded(
    broker, client, api_client, django_capture_on_commit_callbacks
):
    # Given CI's token, a complete version ready to submit, and a person of the team
    version = ready_version()
    team = version.registered_model.team
    board_policy(team)
    attach_passing_evidence(version)
    _, token = service_account_with_token(teams=[team])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    client.force_login(version.registered_model.owner)

    # When the broker goes away
    broker.stop()

    # Then health answers 200, degraded, saying the broker is unreachable and where
    health = client.get("/health/").json()
    assert (health["status"], health["database"], health["broker"]) == ("degraded", "ok", "down")
    assert health["reasons"][0].startswith(f"broker unreachable at {broker.url}")

    # And CI's submit (which enqueues the checks on commit) answers 201; the request waits
    # in submitted for the sweep that re-enqueues it
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api_client.post(
            "/api/v1/promotion-requests/", {"version": version.pk}, format="json"
        )
    assert response.status_code == 201, response.json()
    assert len(callbacks) == 1
    assert PromotionRequest.objects.get(pk=response.json()["id"]).state == "submitted"

    # And reads answer: the API's list and the admin pages
    assert api_client.get("/api/v1/promotion-requests/").status_code == 200
    assert client.get("/admin/").status_code == 200

    # And a job's notification waits in the outbox instead of failing the job
    with django_capture_on_commit_callbacks(execute=True):
        assert services.approval_expiry_reminders_send(via="system:task t") == 0
        _expiring_version()
        assert services.approval_expiry_reminders_send(via="system:task t") == 1
    assert Notification.objects.get().state == DeliveryState.PENDING
    assert mail.outbox == []

    # When Redis returns, health says ok again
    broker.start()
    assert client.get("/health/").json() == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
        "reasons": [],
    }


@pytest.fixture
def smtp_sink():
    sink, server = start_sink()
    yield sink
    server.shutdown()


@pytest.fixture
def worker(broker, smtp_sink):
    """A real worker on the test's own Redis and the test database, sending mail to the
    local SMTP sink; started when the test calls it."""
    processes = []

    def start() -> subprocess.Popen:
        env = worker_env(
            broker_url=broker.url,
            database=connection.settings_dict,
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST=smtp_sink.host,
            EMAIL_PORT=str(smtp_sink.port),
            GOVBOARD_SIGNING_KEY=settings.GOVBOARD_SIGNING_KEY,
        )
        process = subprocess.Popen(
            WORKER_COMMAND, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_while_redis_is_down_is_notified_once_it_returns(
    broker, worker, smtp_sink
):
    # Given the broker is down
    broker.stop()

    # When a job commits a change that notifies (an approval expiring in five days)
    version = _expiring_version()
    model = version.registered_model
    assert services.approval_expiry_reminders_send(via="system:task while-down") == 1

    # Then the change is committed and its notification waits in the outbox
    assert Notification.objects.get().state == DeliveryState.PENDING
    assert smtp_sink.received == []

    # When Redis returns, a worker runs and the beat's relay is published
    broker.start()
    forget_broker_failure()
    process = worker()
    relay_outbox.delay()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not smtp_sink.received:
        time.sleep(0.2)
    # ...and the relay is published again (the next beat), while the first one ran
    relay_outbox.delay()
    queue = redis.Redis.from_url(broker.url)
    while time.monotonic() < deadline and queue.llen("celery"):
        time.sleep(0.2)
    if not smtp_sink.received:
        process.terminate()
        pytest.fail(f"no mail; worker said:\n{process.communicate(timeout=20)[0].decode()}")

    # Then exactly one email reached the SMTP server, to the three contacts
    time.sleep(0.5)
    assert len(smtp_sink.received) == 1
    received = smtp_sink.received[0]
    assert received.recipients == [
        model.owner.email,
        model.backup_owner.email,
        "oncall@example.test",
    ]
    assert received.message["Subject"] == f"Approval of {version} expires within 7 days"
    assert Notification.objects.get().state == DeliveryState.DELIVERED
