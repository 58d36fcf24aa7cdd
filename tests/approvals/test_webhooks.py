"""Outbound webhooks against a real local HTTP receiver: HMAC-signed JSON, one delivery
per (endpoint, event), retried with backoff by the Celery task, every attempt logged."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading

import pytest
from django.db import transaction

from approvals import services
from approvals.models import WebhookAttempt, WebhookDelivery
from approvals.tasks import deliver_webhook
from audit.models import AuditEvent
from core import permissions
from tests.approvals.factories import WebhookEndpointFactory, request_in_review
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
    WebhookEndpointFactory(name="routing", url=receiver, secret=SECRET)
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


def approved_with_endpoint(receiver):
    team = TeamFactory(slug="assistants")
    WebhookEndpointFactory(name="routing", url=receiver, secret=SECRET)
    request = request_in_review(registered_model__team=team)
    for role in ("platform", "product", "security"):
        services.signoff_record(
            actor=approver(team, role), request=request, role=role, password=PASSWORD
        )
    return team, request


def test_the_delivery_is_written_in_the_transaction_of_the_approval(receiver):
    # Given an approval: its delivery exists as soon as the change committed, with the
    # payload of the version as the approval left it (no reading of the log afterwards)
    _, request = approved_with_endpoint(receiver)

    delivery = WebhookDelivery.objects.get()
    event = AuditEvent.objects.get(verb="promotion.approved")
    assert (delivery.event_id, delivery.verb) == (event.pk, "promotion.approved")
    assert delivery.payload["model"]["state"] == "approved"
    assert delivery.payload["object"] == {
        "type": "approvals.promotionrequest",
        "id": str(request.pk),
    }
    assert services.webhooks_dispatch() == [delivery.pk]


def test_a_forged_audit_row_is_never_announced(receiver):
    # Given an endpoint and a request still in review
    team = TeamFactory(slug="assistants")
    WebhookEndpointFactory(name="routing", url=receiver, secret=SECRET)
    request = request_in_review(registered_model__team=team)

    # When someone inserts a promotion.approved event by hand (no service ran)
    AuditEvent.objects.create(
        actor_label="forger",
        verb="promotion.approved",
        object_type="approvals.promotionrequest",
        object_id=str(request.pk),
        team_id=team.pk,
        data={"after": {"state": "approved"}},
    )

    # Then nothing is, or ever will be, announced
    assert services.webhooks_dispatch() == []
    assert WebhookDelivery.objects.count() == 0


def test_a_rolled_back_change_announces_nothing(receiver):
    team = TeamFactory(slug="assistants")
    WebhookEndpointFactory(name="routing", url=receiver, secret=SECRET)
    request = request_in_review(registered_model__team=team)

    with pytest.raises(RuntimeError), transaction.atomic():
        services.promotion_request_reject(
            actor=approver(team, "platform"), request=request, reason="not good enough"
        )
        assert WebhookDelivery.objects.count() == 1  # written with the change...
        raise RuntimeError("the transaction fails after the change")

    assert WebhookDelivery.objects.count() == 0  # ...and gone with it


def test_deprecating_an_approved_version_emits_a_signed_webhook_event(receiver):
    # Given an approved version and a routing webhook
    team = TeamFactory(slug="assistants")
    WebhookEndpointFactory(name="routing", url=receiver, secret=SECRET)
    request = request_in_review(registered_model__team=team)
    for role in ("platform", "product", "security"):
        services.signoff_record(
            actor=approver(team, role), request=request, role=role, password=PASSWORD
        )
    manager = approver(team)
    permissions.grant_team_role(manager, "registry.manage_governance", team)

    # When a manager deprecates it and the dispatcher runs
    services.version_deprecate(actor=manager, version=request.version, reason="replaced by 2.0.0")
    ids = services.webhooks_dispatch()

    # Then a version.deprecate delivery exists and is delivered with a valid HMAC
    delivery = WebhookDelivery.objects.get(verb="version.deprecated")
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
    assert json.loads(body)["event"] == "version.deprecated"
