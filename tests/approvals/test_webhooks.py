"""Outbound webhooks against a real local HTTP receiver: HMAC-signed JSON, one delivery
per (endpoint, event), retried with backoff by the Celery task, every attempt logged."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading

import pytest

from approvals import services
from approvals.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from approvals.tasks import deliver_webhook
from registry import permissions
from registry import services as registry_services
from tests.approvals.factories import request_in_review
from tests.registry.factories import PASSWORD, TeamFactory, approver

pytestmark = pytest.mark.django_db
SECRET = "receiver-shared-secret"


class Receiver(http.server.BaseHTTPRequestHandler):
    fail_first = 2
    received: list[tuple[dict, str, bytes]] = []
    calls = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).calls += 1
        if type(self).calls <= type(self).fail_first:
            self.send_response(503)
            self.end_headers()
            return
        type(self).received.append((dict(self.headers), self.headers["X-Govboard-Signature"], body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received, Receiver.calls = [], 0
    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def test_approval_is_delivered_signed_after_retries_and_only_once(receiver):
    team = TeamFactory(slug="assistants")
    WebhookEndpoint.objects.create(name="routing", url=receiver, secret=SECRET)
    request = request_in_review(registered_model__team=team)
    for role in ("platform", "product", "security"):
        services.signoff_record(
            actor=approver(team, role), request=request, role=role, password=PASSWORD
        )

    first = services.webhooks_dispatch()
    again = services.webhooks_dispatch()  # a second dispatcher finds nothing new
    assert len(first) == 1  # promotion.approved (approval, rejection, deprecation are sent)
    assert again == first  # still pending, not duplicated
    assert WebhookDelivery.objects.count() == 1

    # Each run of the real task is one attempt; a failure asks Celery to retry it with
    # backoff (``Retry``). Run it locally until delivered, as a worker would.
    for delivery_id in first:
        for _ in range(5):
            deliver_webhook.apply(args=[delivery_id], throw=False)
            delivery = WebhookDelivery.objects.get(pk=delivery_id)
            if delivery.state != "pending":
                break
            assert delivery.next_attempt_at is not None  # backoff scheduled

    attempts = list(WebhookAttempt.objects.order_by("id").values_list("status_code", flat=True))
    print(f"webhook attempts: {attempts}")
    assert attempts[:2] == [503, 503]
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"delivered"}
    assert len(Receiver.received) == 1
    for _headers, signature, body in Receiver.received:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(signature, expected)
        payload = json.loads(body)
        assert payload["model"]["sha256"] == request.version.checksum
    assert json.loads(Receiver.received[0][2])["event"] == "promotion.approved"


def test_the_dispatcher_never_reads_past_events_younger_than_its_lag(receiver):
    # Given an approval whose audit events were just written
    team = TeamFactory(slug="assistants")
    WebhookEndpoint.objects.create(name="routing", url=receiver, secret=SECRET)
    request = request_in_review(registered_model__team=team)
    for role in ("platform", "product", "security"):
        services.signoff_record(
            actor=approver(team, role), request=request, role=role, password=PASSWORD
        )

    # When a dispatcher with an hour's lag runs, nothing is consumed and the cursor stays
    # (a transaction holding a lower id might still commit: it must not be skipped)
    assert services.webhooks_dispatch(lag_seconds=3600) == []
    assert WebhookDelivery.objects.count() == 0

    # Then once the events are settled, they are delivered exactly once
    assert len(services.webhooks_dispatch(lag_seconds=0)) == 1
    assert WebhookDelivery.objects.count() == 1


def test_deprecating_an_approved_version_emits_a_signed_webhook_event(receiver):
    # Given an approved version and a routing webhook
    team = TeamFactory(slug="assistants")
    WebhookEndpoint.objects.create(name="routing", url=receiver, secret=SECRET)
    request = request_in_review(registered_model__team=team)
    for role in ("platform", "product", "security"):
        services.signoff_record(
            actor=approver(team, role), request=request, role=role, password=PASSWORD
        )
    services.webhooks_dispatch()  # the approval event
    manager = approver(team)
    permissions.grant_team_permission(manager, "registry.manage_governance", team)

    # When a manager deprecates it and the dispatcher runs
    registry_services.version_deprecate(
        actor=manager, version=request.version, reason="replaced by 2.0.0"
    )
    ids = services.webhooks_dispatch()

    # Then a version.deprecate delivery exists and is delivered with a valid HMAC
    delivery = WebhookDelivery.objects.get(verb="version.deprecate")
    assert delivery.pk in ids
    Receiver.fail_first = 0
    try:
        deliver_webhook.apply(args=[delivery.pk], throw=False)
    finally:
        Receiver.fail_first = 2
    delivery.refresh_from_db()
    assert delivery.state == "delivered"
    _headers, signature, body = Receiver.received[-1]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    assert json.loads(body)["event"] == "version.deprecate"
