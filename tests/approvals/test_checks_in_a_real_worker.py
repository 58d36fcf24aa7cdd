"""Issue 3: the automated checks are a Celery task per request, run by a real worker.

CI submits through the API; the request is ``submitted`` when the response returns; a real
``celery worker`` process, fed through Redis, runs the checks and moves it to review.
PostgreSQL and Redis only (the worker is another process: it needs a shared database).
"""

from __future__ import annotations

import subprocess
import time

import pytest
from django.conf import settings
from django.db import connection

from approvals.models import PromotionRequest
from govboard.celery import app as celery_app
from tests.approvals.factories import attach_passing_evidence, board_policy
from tests.celery_worker import ROOT, WORKER_COMMAND, worker_env
from tests.registry.factories import ready_version, service_account_with_token

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not settings.CELERY_BROKER_URL.startswith("redis")
        or settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL): the worker is a process",
    ),
]


@pytest.fixture
def worker():
    """A real worker (on the test's own Redis database), pointed at the test database."""
    env = worker_env(
        broker_url=settings.CELERY_BROKER_URL,
        database=connection.settings_dict,
        GOVBOARD_SIGNING_KEY=settings.GOVBOARD_SIGNING_KEY,
        GOVBOARD_MEDIA_ROOT=str(settings.MEDIA_ROOT),
    )
    process = subprocess.Popen(
        WORKER_COMMAND, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    conf = celery_app.conf
    # This test sends real messages (not eager) through the broker to the worker.
    conf.task_always_eager = False
    try:
        yield process
    finally:
        conf.task_always_eager = True
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_a_submitted_request_is_checked_by_the_worker_and_enters_review(
    api_client, worker, seeded_policies
):
    # Given a complete version with passing evidence and the team's CI token
    version = ready_version()
    team = version.registered_model.team
    board_policy(team)
    attach_passing_evidence(version)
    _, token = service_account_with_token(teams=[team])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    # When CI requests promotion
    response = api_client.post(
        "/api/v1/promotion-requests/", {"version": version.pk}, format="json"
    )

    # Then the API answers at once, before the checks ran...
    assert response.status_code == 201, response.json()
    request_id = response.json()["id"]
    assert response.json()["state"] in {"submitted", "checking", "in_review"}

    # ...and the worker runs them: the request reaches review and the version is a candidate
    deadline = time.monotonic() + 60
    state = None
    while time.monotonic() < deadline:
        state = PromotionRequest.objects.get(pk=request_id).state
        if state not in {"submitted", "checking"}:
            break
        time.sleep(0.5)
    if state != "in_review":
        worker.terminate()
        pytest.fail(
            f"request is {state}; worker said:\n{worker.communicate(timeout=20)[0].decode()}"
        )
    version.refresh_from_db()
    assert version.state == "candidate"
