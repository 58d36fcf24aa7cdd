"""SEC-3: 100 parallel bad logins on one account lock it at exactly N recorded failures; then
even the right password is refused until an (audited) unlock. Real threads, each on its own
PostgreSQL connection, released together; figures printed."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection, connections
from django.test import Client

from approvals import services as approval_services
from approvals.models import SignOff
from audit.models import AuditEvent
from core.errors import NotPermitted
from identity import services
from identity.models import LockoutScope, LoginLockout
from tests.approvals.factories import request_in_review
from tests.registry.factories import PASSWORD, TeamFactory, UserFactory, approver

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.many_connections]

N = 5
ADDRESS_LIMIT = 20
ATTEMPTS = 100
LOGIN_URL = "/admin/login/"


@pytest.fixture
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite serialises every writer on one database lock (and the in-memory test "
            "database is shared through one cache), so parallel logins never race: run with "
            "DATABASE_URL=postgres://…"
        )


@pytest.fixture(autouse=True)
def lockout_settings(settings):
    settings.GOVBOARD_LOCKOUT_FAILURES = N
    settings.GOVBOARD_LOCKOUT_ADDRESS_FAILURES = ADDRESS_LIMIT
    settings.GOVBOARD_LOCKOUT_WINDOW_SECONDS = 900
    settings.GOVBOARD_LOCKOUT_SECONDS = 900
    settings.GOVBOARD_TRUSTED_PROXIES = []


#: Attempts that were refused a connection and run again (see ``_with_a_connection``).
RETRIES: list[int] = []


def _refused_connection(exc: Exception) -> bool:
    return isinstance(exc, OperationalError) and (
        "too many clients" in str(exc) or "remaining connection slots" in str(exc)
    )


def _with_a_connection(attempt, barrier: threading.Barrier | None = None):
    """Run ``attempt`` in this thread on its own connection, closed afterwards.

    PostgreSQL here allows 100 connections in all, shared with the test itself and other
    runs, so some of 100 threads may be refused one: such an attempt is run again and noted
    in ``RETRIES`` (a rerun attempt may find the account locked by its own first run, so
    the answers are exact only without reruns; the recorded counts always are)."""
    try:
        if barrier is not None:
            barrier.wait(timeout=60)
        for tries in range(100):
            try:
                result = attempt()
            except Exception as exc:
                if not _refused_connection(exc):
                    raise
                connections.close_all()
                time.sleep(0.1)
            else:
                if tries:
                    RETRIES.append(tries)
                return result
        raise RuntimeError("no database connection after 100 tries")
    except Exception as exc:  # an error is a result to count, not a crash of the test
        return "error", repr(exc)
    finally:
        connections.close_all()


def in_parallel(attempts) -> list:
    RETRIES.clear()
    barrier = threading.Barrier(len(attempts))
    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        futures = [pool.submit(_with_a_connection, attempt, barrier) for attempt in attempts]
        return [future.result(timeout=300) for future in futures]


def login(username: str, password: str, address: str):
    def attempt():
        browser = Client(REMOTE_ADDR=address)
        response = browser.post(LOGIN_URL, {"username": username, "password": password})
        html = response.content.decode()
        if services.LOCKOUT_MESSAGE in html:
            answer = "locked"
        elif "Please enter the correct" in html:
            answer = "wrong"
        else:
            answer = "signed-in" if "_auth_user_id" in browser.session else "other"
        return response.status_code, answer

    return attempt


def counted(verb: str) -> int:
    return AuditEvent.objects.filter(verb=verb).count()


def test_sec3_100_parallel_bad_logins_lock_one_account_at_exactly_n(postgresql_only):
    # Given a staff account
    user = UserFactory(username="target", is_staff=True)

    # When 100 bad logins for it arrive at once, from 100 addresses (so only the account's
    # counter can stop them)
    results = in_parallel(
        [login("target", f"guess-{i}", f"10.20.{i // 200}.{i % 200 + 1}") for i in range(ATTEMPTS)]
    )

    # Then exactly N failures were recorded and audited, one lockout, no errors
    row = LoginLockout.objects.get(scope=LockoutScope.ACCOUNT, key="target")
    answers = [answer for _, answer in results]
    failed_events = counted(services.LOGIN_FAILED)
    print(
        f"SEC-3: {ATTEMPTS} parallel bad logins on one account: {row.failures} failures "
        f"recorded, {failed_events} auth.login_failed events, "
        f"{counted(services.LOCKED_OUT)} auth.locked_out, answers "
        f"{ {a: answers.count(a) for a in sorted(set(answers))} } (N = {N}; "
        f"{len(RETRIES)} attempts waited for a connection)"
    )
    assert [r for r in results if r[0] != 200] == []
    assert row.failures == N and row.is_locked()
    assert failed_events == N
    assert counted(services.LOCKED_OUT) == 1
    # ... the N-1 counted before the Nth were told "wrong", every other attempt "locked"
    # (when no attempt had to be run again: a rerun one is answered "locked")
    assert answers.count("wrong") <= N - 1
    if not RETRIES:
        assert answers.count("wrong") == N - 1
    assert set(answers) <= {"wrong", "locked"}
    assert not any(
        f"guess-{i}" in repr(data)
        for data in AuditEvent.objects.values_list("data", flat=True)
        for i in range(ATTEMPTS)
    )

    # When the right password comes while locked / Then it is refused, and nothing is counted
    assert _with_a_connection(login("target", PASSWORD, "10.30.0.1")) == (200, "locked")
    assert LoginLockout.objects.get(pk=row.pk).failures == N

    # When a superuser unlocks the account / Then it is audited, and the right password works
    admin_user = UserFactory(is_superuser=True, is_staff=True)
    services.lockout_unlock(actor=admin_user, lockout=row, reason="SEC-3 drill")
    assert AuditEvent.objects.filter(verb=services.UNLOCKED, actor=admin_user).count() == 1
    assert _with_a_connection(login("target", PASSWORD, "10.30.0.1")) == (302, "signed-in")
    assert user.pk


def test_100_parallel_bad_logins_from_one_address_lock_it_at_exactly_its_limit(postgresql_only):
    # Given one address spraying 100 different names at once
    results = in_parallel(
        [login(f"spray-{i}", "Winter2026!", "198.51.100.200") for i in range(ATTEMPTS)]
    )

    # Then the address is locked at exactly its limit, each counted failure audited
    row = LoginLockout.objects.get(scope=LockoutScope.ADDRESS, key="198.51.100.200")
    print(
        f"SEC-3 address: {ATTEMPTS} parallel bad logins from one address: {row.failures} "
        f"failures recorded, {counted(services.LOGIN_FAILED)} auth.login_failed events "
        f"(limit {ADDRESS_LIMIT})"
    )
    assert [r for r in results if r[0] != 200] == []
    assert row.failures == ADDRESS_LIMIT and row.is_locked()
    assert counted(services.LOGIN_FAILED) == ADDRESS_LIMIT
    assert AuditEvent.objects.filter(verb=services.LOCKED_OUT, data__scope="address").count() == 1


def test_100_parallel_wrong_sign_off_passwords_lock_the_account_at_exactly_n(
    postgresql_only, seeded_policies
):
    # Given a platform approver and a request in review
    team = TeamFactory(slug="assistants")
    review = request_in_review(registered_model__team=team)
    signer = approver(team, "platform")
    user_model = get_user_model()

    def sign(password: str):
        def attempt():
            try:
                approval_services.signoff_record(
                    actor=user_model.objects.get(pk=signer.pk),
                    request=review.pk,
                    role="platform",
                    password=password,
                )
            except services.LockedOut:
                return 403, "locked"
            except NotPermitted:
                return 403, "wrong"
            return 201, "signed"

        return attempt

    # When 100 sign-offs with wrong passwords arrive at once
    results = in_parallel([sign(f"typo-{i}") for i in range(ATTEMPTS)])

    # Then exactly N failures were recorded and audited (each service call raised, and
    # rolled its own transaction back, yet the failure stayed), and the account is locked
    row = LoginLockout.objects.get(scope=LockoutScope.ACCOUNT, key=signer.username.casefold())
    answers = [answer for _, answer in results]
    print(
        f"SEC-3 sign-off: {ATTEMPTS} parallel wrong sign-off passwords: {row.failures} failures "
        f"recorded, {counted(services.REAUTHENTICATION_FAILED)} auth.reauthentication_failed "
        f"events, answers { {a: answers.count(a) for a in sorted(set(answers))} } (N = {N}; "
        f"{len(RETRIES)} attempts waited for a connection)"
    )
    assert set(answers) <= {"wrong", "locked"}
    assert row.failures == N and row.is_locked()
    assert counted(services.REAUTHENTICATION_FAILED) == N
    assert answers.count("wrong") <= N - 1
    if not RETRIES:
        assert answers.count("wrong") == N - 1

    # When they then sign with the right password / Then it is refused, no sign-off exists
    assert _with_a_connection(sign(PASSWORD)) == (403, "locked")
    assert not SignOff.objects.exists()

    # ... until unlocked (audited), after which the same signature lands
    services.lockout_unlock(actor=UserFactory(is_superuser=True), lockout=row, reason="typos")
    assert _with_a_connection(sign(PASSWORD)) == (201, "signed")
    assert SignOff.objects.filter(signer=signer).count() == 1
