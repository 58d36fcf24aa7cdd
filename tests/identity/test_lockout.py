"""Sign-in lockout: the admin login, the sign-off password and one-time codes count failures
per account name and per client address; at the limit even the right secret is refused; every
failure, lockout and unlock is audited; the answer never tells whether an account exists."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, RequestFactory
from django.utils import timezone

from approvals import services as approval_services
from approvals import totp
from approvals.models import SignOff, TotpDevice
from audit.models import AuditEvent
from core.errors import NotPermitted
from identity import services
from identity.addresses import address_key, client_address
from identity.apps import check_lockout_settings
from identity.models import LockoutScope, LoginLockout
from tests.approvals.factories import governance_row_counts, request_in_review
from tests.registry.factories import PASSWORD, TeamFactory, UserFactory, approver

pytestmark = pytest.mark.django_db

N = 5
ADDRESS_LIMIT = 20
LOGIN_URL = "/admin/login/"
AUTH_VERBS = (
    services.LOGIN_FAILED,
    services.REAUTHENTICATION_FAILED,
    services.LOCKED_OUT,
    services.UNLOCKED,
)


@pytest.fixture(autouse=True)
def lockout_settings(settings):
    settings.GOVBOARD_LOCKOUT_FAILURES = N
    settings.GOVBOARD_LOCKOUT_ADDRESS_FAILURES = ADDRESS_LIMIT
    settings.GOVBOARD_LOCKOUT_WINDOW_SECONDS = 900
    settings.GOVBOARD_LOCKOUT_SECONDS = 900
    settings.GOVBOARD_TRUSTED_PROXIES = []
    return settings


def login(username: str, password: str, *, address: str = "192.0.2.10", **headers):
    browser = Client(REMOTE_ADDR=address, **headers)
    response = browser.post(
        LOGIN_URL, {"username": username, "password": password, "next": "/admin/"}
    )
    return browser, response


def error_text(response) -> str:
    """The form's error note (what the person is told), whitespace-normalised."""
    html = response.content.decode()
    found = re.findall(r'<p class="errornote">(.*?)</p>', html, re.S)
    found += re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', html, re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", " ".join(found))).split())


def signed_in(browser: Client) -> bool:
    return "_auth_user_id" in browser.session


def events(*verbs: str):
    return AuditEvent.objects.filter(verb__in=verbs or AUTH_VERBS).order_by("id")


def staff(**kwargs):
    return UserFactory(is_staff=True, **kwargs)


def account_row(username: str) -> LoginLockout:
    return LoginLockout.objects.get(scope=LockoutScope.ACCOUNT, key=username.casefold())


def assert_no_secret_in_the_log(*secrets: str) -> None:
    for event in AuditEvent.objects.all():
        text = repr(event.data)
        for secret in secrets:
            assert secret not in text, f"{event.verb} carries a secret"


# --- the admin login --------------------------------------------------------------------


def test_the_right_password_signs_in_and_clears_earlier_failures():
    # Given a staff account with N-1 failed logins
    user = staff()
    for _ in range(N - 1):
        login(user.username, "wrong")
    assert account_row(user.username).failures == N - 1

    # When the right password is given
    browser, response = login(user.username, PASSWORD)

    # Then they are signed in and the account's count starts again
    assert response.status_code == 302
    assert signed_in(browser)
    assert account_row(user.username).failures == 0
    assert not account_row(user.username).is_locked()


def test_n_failed_logins_lock_the_account_and_then_the_right_password_is_refused():
    # Given a staff account
    user = staff()
    before = governance_row_counts()

    # When the wrong password is given N times
    answers = [login(user.username, f"guess-{i}")[1] for i in range(N)]

    # Then the first N-1 are Django's usual answer and the Nth is the lockout
    assert [r.status_code for r in answers] == [200] * N
    assert all("Please enter the correct" in error_text(r) for r in answers[:-1])
    assert error_text(answers[-1]) == services.LOCKOUT_MESSAGE
    # ... each failure and the lockout are audited, with the address, never the password
    verbs = list(events().values_list("verb", flat=True))
    assert verbs == [services.LOGIN_FAILED] * N + [services.LOCKED_OUT]
    first = events(services.LOGIN_FAILED).first()
    assert first.data["address"] == "192.0.2.10"
    assert first.data["username"] == user.username
    assert first.data["account_exists"] is True
    assert first.actor is None and first.actor_label == "anonymous"
    assert_no_secret_in_the_log(*(f"guess-{i}" for i in range(N)))

    # When the right password is given while locked
    last_event = AuditEvent.objects.order_by("-id").first().pk
    browser, response = login(user.username, PASSWORD)

    # Then it is refused with the same lockout answer, not signed in, and nothing else changed
    assert response.status_code == 200
    assert error_text(response) == services.LOCKOUT_MESSAGE
    assert not signed_in(browser)
    assert AuditEvent.objects.order_by("-id").first().pk == last_event
    assert account_row(user.username).failures == N
    after = governance_row_counts()
    assert {**after, "audit_events": 0} == {**before, "audit_events": 0}
    assert after["audit_events"] == before["audit_events"] + N + 1


def test_a_locked_known_account_and_an_unknown_name_get_the_same_answer():
    # Given a known account and a name no account has, each failed N times (other addresses)
    known = staff(username="alice")
    for _ in range(N):
        login(known.username, "wrong", address="192.0.2.21")
        login("nobody-here", "wrong", address="192.0.2.22")

    # When each then tries again (the known one with the right password)
    _, to_known = login(known.username, PASSWORD, address="192.0.2.23")
    _, to_unknown = login("nobody-here", PASSWORD, address="192.0.2.24")

    # Then the two answers are the same: status, message, and page apart from the name typed
    assert to_known.status_code == to_unknown.status_code == 200
    assert error_text(to_known) == error_text(to_unknown) == services.LOCKOUT_MESSAGE

    def page(response, name):
        html = response.content.decode().replace(name, "NAME")
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)

    assert page(to_known, "alice") == page(to_unknown, "nobody-here")
    # ... and the unknown name's failures are audited like the known one's
    unknown = events(services.LOGIN_FAILED).filter(data__username="nobody-here")
    assert unknown.count() == N
    assert unknown.first().data["account_exists"] is False


def test_an_address_spraying_many_names_is_locked_for_every_account():
    # Given a staff account that never failed, and an address trying many names once each
    user = staff()
    for i in range(ADDRESS_LIMIT):
        _, response = login(f"spray-{i}", "Winter2026!", address="198.51.100.7")
    assert error_text(response) == services.LOCKOUT_MESSAGE
    address_row = LoginLockout.objects.get(scope=LockoutScope.ADDRESS, key="198.51.100.7")
    assert address_row.failures == ADDRESS_LIMIT and address_row.is_locked()
    assert events(services.LOCKED_OUT).filter(data__scope="address").count() == 1

    # When the account's right password comes from that address
    browser, response = login(user.username, PASSWORD, address="198.51.100.7")

    # Then it is refused (no name is tried from there), and nothing was counted
    assert error_text(response) == services.LOCKOUT_MESSAGE
    assert not signed_in(browser)
    assert not LoginLockout.objects.filter(scope="account", key=user.username.casefold()).exists()

    # ... while the same account signs in from another address
    browser, response = login(user.username, PASSWORD, address="198.51.100.8")
    assert response.status_code == 302 and signed_in(browser)


def test_a_forwarded_for_header_from_an_untrusted_peer_is_ignored():
    # Given no trusted proxy, and a client that invents a new X-Forwarded-For every time
    for i in range(ADDRESS_LIMIT):
        login(f"spray-{i}", "wrong", address="203.0.113.5", HTTP_X_FORWARDED_FOR=f"10.9.0.{i}")

    # Then the peer itself is counted and locked; the invented addresses are not
    assert LoginLockout.objects.get(scope="address", key="203.0.113.5").is_locked()
    assert not LoginLockout.objects.filter(scope="address", key__startswith="10.9.").exists()


def test_behind_a_trusted_proxy_each_client_is_counted_on_its_own(lockout_settings):
    # Given the reverse proxy at 127.0.0.1 is trusted
    lockout_settings.GOVBOARD_TRUSTED_PROXIES = ["127.0.0.1"]

    # When one client behind it sprays names, and another signs in
    for i in range(ADDRESS_LIMIT):
        login(f"spray-{i}", "wrong", address="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.66")
    user = staff()
    browser, response = login(
        user.username, PASSWORD, address="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.77"
    )

    # Then only the spraying client is locked; the proxy is not, and the other client is in
    assert LoginLockout.objects.get(scope="address", key="203.0.113.66").is_locked()
    assert not LoginLockout.objects.filter(scope="address", key="127.0.0.1").exists()
    assert response.status_code == 302 and signed_in(browser)


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        ([], "192.0.2.1", "", "192.0.2.1"),
        ([], "192.0.2.1", "10.0.0.1", "192.0.2.1"),  # nobody's header is believed
        (["127.0.0.1"], "127.0.0.1", "203.0.113.9", "203.0.113.9"),
        # the client wrote the left part itself: only the proxy's own entry counts
        (["127.0.0.1"], "127.0.0.1", "1.1.1.1, 203.0.113.9", "203.0.113.9"),
        (["10.0.0.0/8"], "10.0.0.2", "203.0.113.9, 10.0.0.3", "203.0.113.9"),
        (["127.0.0.1"], "192.0.2.1", "203.0.113.9", "192.0.2.1"),  # peer is not the proxy
        (["127.0.0.1"], "127.0.0.1", "not-an-ip", "127.0.0.1"),
        (["127.0.0.1"], "127.0.0.1", "", "127.0.0.1"),
        (["127.0.0.1"], "127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"),
        ([], "::ffff:192.0.2.1", "", "192.0.2.1"),
    ],
)
def test_the_client_address(lockout_settings, trusted, remote, forwarded, expected):
    lockout_settings.GOVBOARD_TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


def test_ipv6_clients_are_counted_per_64():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("192.0.2.1") == "192.0.2.1"


def test_names_are_counted_case_folded():
    user = staff(username="carol")
    for name in ("Carol", "CAROL", "carol", "cArol", "caroL"):
        login(name, "wrong", address="192.0.2.31")
    assert account_row("carol").is_locked()
    _, response = login("carol", PASSWORD, address="192.0.2.32")
    assert error_text(response) == services.LOCKOUT_MESSAGE
    assert user.pk


def test_failures_outside_the_window_do_not_add_up():
    # Given N-1 failures, the window since passed
    user = staff()
    for _ in range(N - 1):
        login(user.username, "wrong")
    LoginLockout.objects.update(window_started_at=timezone.now() - timedelta(seconds=901))

    # When one more fails
    login(user.username, "wrong")

    # Then it is the first of a new window, not the Nth
    assert account_row(user.username).failures == 1
    assert not account_row(user.username).is_locked()


def test_a_lockout_runs_out_after_its_duration():
    # Given a locked account whose lockout has run out
    user = staff()
    for _ in range(N):
        login(user.username, "wrong")
    LoginLockout.objects.filter(scope="account").update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )

    # When the right password is given / Then they are signed in
    browser, response = login(user.username, PASSWORD)
    assert response.status_code == 302 and signed_in(browser)


def test_with_no_duration_a_lockout_lasts_until_unlocked(lockout_settings):
    lockout_settings.GOVBOARD_LOCKOUT_SECONDS = 0
    user = staff()
    for _ in range(N):
        login(user.username, "wrong")
    row = account_row(user.username)
    assert row.locked_until is None and row.is_locked(timezone.now() + timedelta(days=365))


# --- unlocking ----------------------------------------------------------------------------


def lock(username: str = "dave", address: str = "192.0.2.50") -> LoginLockout:
    for _ in range(N):
        login(username, "wrong", address=address)
    row = account_row(username)
    assert row.is_locked()
    return row


def unlock_in_admin(actor, row: LoginLockout, reason: str = "Called the help desk, verified"):
    browser = Client()
    browser.force_login(actor)
    return browser.post(f"/admin/identity/loginlockout/{row.pk}/unlock/", {"reason": reason})


def test_a_superuser_unlocks_an_account_in_the_admin_and_the_right_password_works():
    # Given a locked account
    user = staff(username="dave")
    row = lock("dave")
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    page = Client()
    page.force_login(admin_user)
    assert "Unlock" in page.get(f"/admin/identity/loginlockout/{row.pk}/change/").content.decode()

    # When a superuser unlocks it with a reason
    response = unlock_in_admin(admin_user, row)

    # Then it is unlocked and audited, and the right password signs in
    assert response.status_code == 302
    row.refresh_from_db()
    assert not row.is_locked() and row.failures == 0
    event = events(services.UNLOCKED).get()
    assert event.actor == admin_user
    assert event.data["reason"] == "Called the help desk, verified"
    assert event.data["before"]["failures"] == N and event.data["before"]["locked"] is True
    browser, response = login(user.username, PASSWORD, address="192.0.2.51")
    assert response.status_code == 302 and signed_in(browser)


def test_the_unlock_permission_lets_a_non_superuser_unlock():
    row = lock()
    helpdesk = staff()
    helpdesk.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="identity",
            codename__in=["view_loginlockout", "unlock_loginlockout"],
        )
    )
    response = unlock_in_admin(helpdesk, row)
    assert response.status_code == 302
    row.refresh_from_db()
    assert not row.is_locked()


def test_a_staff_member_without_the_unlock_permission_is_refused_and_nothing_changes():
    # Given a locked account and staff who may view lockouts but not unlock them
    row = lock()
    viewer = staff()
    viewer.user_permissions.add(Permission.objects.get(codename="view_loginlockout"))
    page = Client()
    page.force_login(viewer)
    assert (
        "Unlock" not in page.get(f"/admin/identity/loginlockout/{row.pk}/change/").content.decode()
    )
    before = (governance_row_counts(), list(LoginLockout.objects.values()))

    # When they post the unlock form anyway
    response = unlock_in_admin(viewer, row)

    # Then it is refused with the reason, and nothing changed
    assert response.status_code == 403
    assert "You may not unlock sign-in lockouts." in response.content.decode()
    assert (governance_row_counts(), list(LoginLockout.objects.values())) == before


def test_staff_without_any_lockout_permission_cannot_even_see_the_row():
    row = lock()
    response = unlock_in_admin(staff(), row)
    assert response.status_code in (403, 404)
    row.refresh_from_db()
    assert row.is_locked()


def test_the_unlock_service_needs_a_reason_and_something_to_unlock():
    row = lock()
    admin_user = UserFactory(is_superuser=True)
    before = governance_row_counts()
    with pytest.raises(services.InvalidInput):
        services.lockout_unlock(actor=admin_user, lockout=row, reason="  ")
    assert governance_row_counts() == before
    services.lockout_unlock(actor=admin_user, lockout=row, reason="verified")
    with pytest.raises(services.Conflict, match="not locked"):
        services.lockout_unlock(actor=admin_user, lockout=row, reason="again")
    assert events(services.UNLOCKED).count() == 1


def test_an_address_is_unlocked_from_the_command_line():
    # Given a locked address
    for i in range(ADDRESS_LIMIT):
        login(f"spray-{i}", "wrong", address="198.51.100.99")
    assert services.is_locked(username=None, address="198.51.100.99")

    # When the operator unlocks it / Then it is unlocked and audited as the command
    call_command("unlock_login", address="198.51.100.99", reason="our own scanner")
    assert not services.is_locked(username=None, address="198.51.100.99")
    event = events(services.UNLOCKED).get()
    assert event.actor is None and event.actor_label == "system:manage.py unlock_login"
    with pytest.raises(CommandError, match="No failed sign-ins"):
        call_command("unlock_login", account="never-failed", reason="x")


def test_the_settings_check_refuses_unusable_values(lockout_settings):
    assert check_lockout_settings() == []
    lockout_settings.GOVBOARD_LOCKOUT_FAILURES = 0
    lockout_settings.GOVBOARD_TRUSTED_PROXIES = ["proxy.internal"]
    assert {error.id for error in check_lockout_settings()} == {"identity.E001", "identity.E003"}


# --- the sign-off re-authentication -------------------------------------------------------


@pytest.fixture
def team():
    return TeamFactory(slug="assistants")


@pytest.fixture
def review(team):
    return request_in_review(registered_model__team=team)


def sign(actor, request, *, password=PASSWORD, code=None):
    return approval_services.signoff_record(
        actor=actor, request=request, role="platform", password=password, one_time_code=code
    )


def board_state(request) -> dict:
    """What a refused sign-off must leave as it was (the auth events aside)."""
    request.refresh_from_db()
    return {
        **governance_row_counts(),
        "audit_events": AuditEvent.objects.exclude(verb__in=AUTH_VERBS).count(),
        "request_state": request.state,
        "signoffs": SignOff.objects.filter(request=request).count(),
    }


def test_n_wrong_sign_off_passwords_lock_the_account_and_then_the_right_one_is_refused(
    team, review
):
    # Given a platform approver
    signer = approver(team, "platform")
    before = board_state(review)

    # When they sign with a wrong password N times
    for i in range(N - 1):
        with pytest.raises(NotPermitted, match="Re-authentication failed"):
            sign(signer, review, password=f"typo-{i}")
    # ... the Nth failure is answered with the lockout
    with pytest.raises(services.LockedOut):
        sign(signer, review, password=f"typo-{N - 1}")

    # Then each failure and the lockout are audited, with the signer as actor
    failures = events(services.REAUTHENTICATION_FAILED)
    assert failures.count() == N
    assert {e.actor_id for e in failures} == {signer.pk}
    assert {e.data["method"] for e in failures} == {"password"}
    assert {e.data["via"] for e in failures} == {"sign-off"}
    assert events(services.LOCKED_OUT).get().data["key"] == signer.username.casefold()
    assert_no_secret_in_the_log(*(f"typo-{i}" for i in range(N)), PASSWORD)

    # When they sign with the right password
    with pytest.raises(services.LockedOut) as refused:
        sign(signer, review)

    # Then it is refused (403), no sign-off exists, and nothing else changed
    assert refused.value.message == services.LOCKOUT_MESSAGE
    assert refused.value.status_code == 403
    assert board_state(review) == before
    assert events().count() == N + 1
    # ... and the admin login of the same account is locked too
    _, response = login(signer.username, PASSWORD)
    assert error_text(response) == services.LOCKOUT_MESSAGE


def test_n_wrong_one_time_codes_lock_the_account_and_then_a_right_code_is_refused(team, review):
    # Given a platform approver with a confirmed authenticator
    signer = approver(team, "platform")
    device, _ = approval_services.totp_device_enrol(actor=signer)
    approval_services.totp_device_confirm(
        actor=signer, code=totp.hotp(device.secret, totp.time_step() - 1)
    )
    device.refresh_from_db()
    good = totp.totp(device.secret)
    wrong = [code for code in (f"{i:06d}" for i in range(100)) if code != good][:N]
    before = board_state(review), device.last_used_step

    # When they sign with N wrong codes (the Nth is answered with the lockout)
    for code in wrong[:-1]:
        with pytest.raises(NotPermitted, match="one-time code is wrong"):
            sign(signer, review, password="", code=code)
    with pytest.raises(services.LockedOut):
        sign(signer, review, password="", code=wrong[-1])

    # Then the failures are audited as one-time codes, and the account is locked
    assert events(services.REAUTHENTICATION_FAILED).count() == N
    assert set(events(services.REAUTHENTICATION_FAILED).values_list("data__method", flat=True)) == {
        "totp"
    }
    assert account_row(signer.username).is_locked()

    # When they sign with the right code / Then it is refused and the code was not spent
    with pytest.raises(services.LockedOut):
        sign(signer, review, password="", code=good)
    assert (board_state(review), TotpDevice.objects.get(pk=device.pk).last_used_step) == before


def test_failed_logins_and_failed_sign_offs_add_up_on_one_account(team, review):
    signer = approver(team, "platform")
    for _ in range(N - 2):
        login(signer.username, "wrong")
    for _ in range(2):
        with pytest.raises(NotPermitted):
            sign(signer, review, password="wrong")
    assert account_row(signer.username).failures == N
    with pytest.raises(services.LockedOut):
        sign(signer, review)
    assert not SignOff.objects.exists()


def test_an_empty_password_is_refused_without_counting(team, review):
    signer = approver(team, "platform")
    with pytest.raises(NotPermitted, match="enter your password"):
        sign(signer, review, password="")
    assert not LoginLockout.objects.exists()
    assert not events().exists()


def test_a_right_sign_off_password_clears_the_accounts_earlier_failures(team, review):
    signer = approver(team, "platform")
    for _ in range(N - 1):
        with pytest.raises(NotPermitted):
            sign(signer, review, password="wrong")
    signoff = sign(signer, review)
    assert signoff.role == "platform"
    assert account_row(signer.username).failures == 0
