"""Races that outside probes broke (issue 8), raced for real: threads with their own
PostgreSQL connections, released together by a barrier, many rounds.

- CON-1: many concurrent sign-off attempts on one request → one sign-off per role, one
  decision, no 5xx.
- CON-2: approve, deprecate, retire, withdraw and the three sweeps at once on one version
  → every round ends consistent (no request in review for a deprecated or retired
  version), no sweep raises, and the history is a chain of declared transitions.
- WH-1: a rejection whose transaction waits on a row lock, while a later approval is
  dispatched, is still announced exactly once.

Figures are printed. ``GOVBOARD_RACE_ROUNDS`` raises the number of rounds for a dedicated
run.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone

from approvals import services
from approvals.choices import OPEN_REQUEST_STATES
from approvals.models import (
    DecisionRecord,
    PromotionRequest,
    SignOff,
    WebhookDelivery,
)
from audit.models import AuditEvent
from core.errors import DomainError
from registry.models import ModelVersion
from tests.approvals.factories import WebhookEndpointFactory, ci_user, request_in_review
from tests.registry.factories import PASSWORD, TeamFactory, approver, manager

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = int(os.environ.get("GOVBOARD_RACE_ROUNDS", "20"))
ROLES = ("platform", "product", "security")
# Declared version transitions (registry/models/catalog.py) and request transitions.
VERSION_MOVES = {
    ("draft", "candidate"),
    ("candidate", "draft"),
    ("candidate", "approved"),
    ("candidate", "deprecated"),
    ("approved", "deprecated"),
    ("deprecated", "retired"),
}


@pytest.fixture
def postgresql_only(seeded_policies):
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite serialises every writer on one database lock, so nothing races: run with "
            "DATABASE_URL=postgres://…"
        )


def together(calls: list, timeout: float = 120) -> list:
    """Run every call in its own thread and connection, released at once; return each
    call's result or the exception it raised."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait(timeout=30)
            return call()
        except Exception as exc:  # a result to judge, not a crash of the test
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [f.result(timeout=timeout) for f in [pool.submit(run, c) for c in calls]]


# --- CON-1 --------------------------------------------------------------------------------


def test_con1_concurrent_sign_offs_give_one_sign_off_per_role_and_one_decision(
    postgresql_only,
):
    attempts_per_round = 21  # three approvers per role, each clicking "sign" twice, plus
    # the requester and a person holding two roles
    team = TeamFactory(slug="races")
    people = {role: [approver(team, role, is_staff=True) for _ in range(3)] for role in ROLES}
    double = approver(team, "platform", "product", is_staff=True)
    tally: Counter = Counter()
    for round_number in range(ROUNDS):
        request = request_in_review(registered_model__team=team)
        url = f"/admin/approvals/promotionrequest/{request.pk}/sign/"
        requester = ci_user(team)

        def sign(user, role, url=url):
            def attempt():
                client = Client()
                client.force_login(user)
                response = client.post(
                    url, {"role": role, "password": PASSWORD, "meaning": "Approved"}
                )
                return response.status_code

            return attempt

        calls = [sign(user, role) for role in ROLES for user in people[role] for _ in (1, 2)]
        calls += [sign(double, "platform"), sign(double, "product")]
        calls.append(
            lambda requester=requester, pk=request.pk: services.signoff_record(
                actor=requester, request=pk, role="platform", password=PASSWORD
            )
        )
        assert len(calls) == attempts_per_round
        results = together(calls)

        statuses = [r for r in results if isinstance(r, int)]
        errors = [r for r in results if isinstance(r, Exception)]
        tally.update(statuses)
        assert all(status < 500 for status in statuses), (round_number, statuses)
        assert all(isinstance(e, DomainError) for e in errors), errors
        roles = list(SignOff.objects.filter(request=request).values_list("role", flat=True))
        assert sorted(roles) == sorted(ROLES), (round_number, roles)
        assert DecisionRecord.objects.filter(request=request).count() == 1
        request.refresh_from_db()
        assert request.state == "approved"
        signers = list(SignOff.objects.filter(request=request).values_list("signer", flat=True))
        assert len(set(signers)) == 3  # nobody signed twice, nobody for two roles
    print(
        f"CON-1: {ROUNDS} rounds x {attempts_per_round} concurrent attempts: "
        f"statuses {dict(tally)}, one sign-off per role and one decision every round, 0 5xx"
    )


# --- CON-2 --------------------------------------------------------------------------------


class SweepFailures(logging.Handler):
    """Counts sweep items that raised (core.sweeps logs each with its id)."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.failures: list[str] = []

    def emit(self, record):
        self.failures.append(record.getMessage())


def version_chain_is_declared(version: ModelVersion) -> bool:
    """The version's audit trail is a chain of declared transitions, each starting where
    the previous one ended."""
    events = AuditEvent.objects.filter(
        object_type="registry.modelversion", object_id=str(version.pk)
    ).order_by("id")
    state = "draft"
    for event in events:
        before = (event.data.get("before") or {}).get("state")
        after = (event.data.get("after") or {}).get("state")
        if before is None and after is None:
            continue  # registration, dataset links: no state change
        if before != state or (before, after) not in VERSION_MOVES:
            return False
        state = after
    return state == version.state


def test_con2_every_lifecycle_verb_and_sweep_at_once_leaves_a_consistent_pair(
    postgresql_only,
):
    team = TeamFactory(slug="races")
    boss = manager(team)
    signers = {role: approver(team, role) for role in ("platform", "product")}
    last_signer = approver(team, "security")
    failures = SweepFailures()
    logging.getLogger("core.sweeps").addHandler(failures)
    outcomes: Counter = Counter()
    far = timezone.now() + timedelta(days=3650)
    try:
        for round_number in range(max(ROUNDS, 40)):
            request = request_in_review(registered_model__team=team)
            for role, person in signers.items():
                services.signoff_record(actor=person, request=request, role=role, password=PASSWORD)
            # Due long ago, so the stale-request sweep may expire it
            PromotionRequest.objects.filter(pk=request.pk).update(
                due_at=timezone.now() - timedelta(days=60)
            )
            version_id = request.version_id
            ci = ci_user(team)
            pk = request.pk
            results = together(
                [
                    lambda pk=pk: services.signoff_record(
                        actor=last_signer, request=pk, role="security", password=PASSWORD
                    ),
                    lambda v=version_id: services.version_deprecate(
                        actor=boss, version=v, reason="replaced"
                    ),
                    lambda v=version_id: services.version_retire(
                        actor=boss, version=v, reason="gone", end_deployments=True
                    ),
                    lambda ci=ci, pk=pk: services.promotion_request_withdraw(actor=ci, request=pk),
                    lambda: services.promotion_requests_expire(via="system:race"),
                    lambda: services.versions_expire_approvals(via="system:race", now=far),
                    lambda: services.versions_retire_after_grace(via="system:race", now=far),
                ]
            )
            unexpected = [
                r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)
            ]
            assert unexpected == [], (round_number, unexpected)
            for index in (4, 5, 6):  # the sweeps never raise: they return a count
                assert isinstance(results[index], int), (round_number, results[index])

            version = ModelVersion.objects.get(pk=version_id)
            request.refresh_from_db()
            outcomes[(request.state, version.state)] += 1
            if version.state in ("deprecated", "retired"):
                assert request.state not in OPEN_REQUEST_STATES, (round_number, request.state)
            if request.state in OPEN_REQUEST_STATES:
                assert version.state in ("draft", "candidate")
            if request.state == "approved":
                assert DecisionRecord.objects.filter(request=request).exists()
                assert version.state in ("approved", "deprecated", "retired")
            assert version_chain_is_declared(version), (
                round_number,
                list(
                    AuditEvent.objects.filter(
                        object_type="registry.modelversion", object_id=str(version.pk)
                    ).values_list("verb", "data")
                ),
            )
            assert not PromotionRequest.objects.filter(
                version__state__in=("deprecated", "retired"), state__in=OPEN_REQUEST_STATES
            ).exists()
        assert failures.failures == []
    finally:
        logging.getLogger("core.sweeps").removeHandler(failures)
    print(
        f"CON-2: {max(ROUNDS, 40)} rounds of 7 racing operations; (request, version) outcomes "
        f"{dict(outcomes)}; 0 open requests on deprecated or retired versions; 0 sweep failures"
    )


# --- WH-1 ---------------------------------------------------------------------------------


def test_wh1_a_rejection_that_commits_late_is_delivered_exactly_once(postgresql_only):
    # Given an endpoint, a request to reject and another to approve
    team = TeamFactory(slug="races")
    WebhookEndpointFactory(name="routing", url="http://127.0.0.1:9/", secret="s")
    to_reject = request_in_review(registered_model__team=team)
    to_approve = request_in_review(registered_model__team=team)
    reviewer = approver(team, "platform")
    recorded, release = threading.Event(), threading.Event()

    def reject_and_commit_late():
        # The rejection is written (its audit event gets the lower id) but its transaction
        # commits only later, as one held up on a lock or a slow step would
        try:
            with transaction.atomic():
                services.promotion_request_reject(
                    actor=reviewer, request=to_reject.pk, reason="evals too weak"
                )
                recorded.set()
                assert release.wait(timeout=60)
            return "committed"
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        rejection = pool.submit(reject_and_commit_late)
        assert recorded.wait(timeout=60)

        # When a later approval commits and the dispatcher runs meanwhile
        for role in ROLES:
            services.signoff_record(
                actor=approver(team, role), request=to_approve, role=role, password=PASSWORD
            )
        # (the dispatcher sees committed deliveries only: the approval's, not yet the
        # rejection's; in tests the on-commit nudge already relayed it, eagerly)
        services.webhooks_dispatch()
        assert list(WebhookDelivery.objects.values_list("verb", flat=True)) == [
            "promotion.approved"
        ]

        # And then the rejection commits
        release.set()
        assert rejection.result(timeout=60) == "committed"

    # Then the rejection (the older event id) is announced exactly once
    rejection_event = AuditEvent.objects.get(verb="promotion.rejected")
    approval_event = AuditEvent.objects.get(verb="promotion.approved")
    assert rejection_event.pk < approval_event.pk  # a cursor past the approval skips it
    deliveries = list(WebhookDelivery.objects.filter(verb="promotion.rejected"))
    assert [d.event_id for d in deliveries] == [rejection_event.pk]
    assert deliveries[0].attempts >= 1  # relayed once committed (the on-commit nudge)
    assert WebhookDelivery.objects.count() == 2
    print(
        f"WH-1: rejection event {rejection_event.pk} committed after approval event "
        f"{approval_event.pk} was dispatched; exactly 1 delivery of the rejection, relayed "
        f"after its commit ({deliveries[0].attempts} attempts to a closed port)"
    )
