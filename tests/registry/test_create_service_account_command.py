"""``manage.py create_service_account``: the token's expiry by --days (0: already expired)
or an aware --expires-at; every refusal leaves nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from audit.models import AuditEvent
from registry.models import ApiToken, ServiceAccount
from tests.registry.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(username="root", is_superuser=True)


@pytest.fixture
def team():
    return TeamFactory(slug="assistants")


def create(*flags: str) -> str:
    out = StringIO()
    call_command(
        "create_service_account", "ci-assistants", "--team", "assistants", "--admin", "root",
        *flags, stdout=out,
    )  # fmt: skip
    return out.getvalue()


def raw_token(output: str) -> str:
    return output.strip().splitlines()[-1]


def row_counts() -> dict[str, int]:
    return {
        "service_accounts": ServiceAccount.objects.count(),
        "tokens": ApiToken.objects.count(),
        "users": get_user_model().objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }


def test_by_default_the_token_expires_in_90_days(admin, team):
    before = timezone.now()

    output = create()

    token = ApiToken.objects.get()
    assert before + timedelta(days=90) <= token.expires_at <= timezone.now() + timedelta(days=90)
    assert raw_token(output).startswith(f"gbt_{token.prefix}_")
    assert "it expires" in output


def test_days_zero_issues_a_token_that_is_already_expired_and_the_api_refuses_it(
    admin, team, api_client
):
    output = create("--days", "0")

    token = ApiToken.objects.get()
    assert token.expires_at <= timezone.now()
    assert "already expired" in output
    issued = AuditEvent.objects.get(verb="token.issued")
    assert issued.data["issued_expired"] is True
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token(output)}")
    response = api_client.get("/api/v1/versions/")
    assert response.status_code == 401


def test_expires_at_with_a_time_zone_sets_the_exact_expiry(admin, team, api_client):
    moment = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    value = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    output = create("--expires-at", value)

    token = ApiToken.objects.get()
    assert token.expires_at == moment
    assert AuditEvent.objects.get(verb="token.issued").data["issued_expired"] is False
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token(output)}")
    assert api_client.get("/api/v1/versions/").status_code == 200


def test_expires_at_accepts_a_numeric_offset(admin, team):
    create("--expires-at", "2099-01-31T12:00:00+01:00")

    assert ApiToken.objects.get().expires_at == datetime(2099, 1, 31, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--expires-at", "2099-01-31T12:00:00"), "needs a time zone"),
        (("--expires-at", "2099-01-31"), "needs a time zone"),
        (("--expires-at", "next tuesday"), "must be an ISO 8601 datetime with a time zone"),
        (("--expires-at", "2099-02-30T12:00:00Z"), "must be an ISO 8601 datetime"),
        (("--expires-at", "2001-01-31T12:00:00Z"), "is in the past; use --days 0"),
        (("--days", "-1"), "--days must be 0 or more"),
        (("--days", "5", "--expires-at", "2099-01-31T12:00:00Z"), "not allowed with argument"),
    ],
)
def test_a_bad_expiry_is_refused_and_nothing_is_created(admin, team, flags, message):
    before = row_counts()

    with pytest.raises(CommandError, match=message):
        create(*flags)

    assert row_counts() == before


def test_both_expiry_options_given_as_keywords_are_refused_too(admin, team):
    before = row_counts()

    with pytest.raises(CommandError, match="--days or --expires-at, not both"):
        call_command(
            "create_service_account",
            "ci-assistants",
            teams=["assistants"],
            admin="root",
            days=5,
            expires_at="2099-01-31T12:00:00Z",
            stdout=StringIO(),
        )

    assert row_counts() == before


def test_a_token_that_cannot_be_issued_leaves_no_service_account_behind(admin, team):
    before = row_counts()

    with pytest.raises(CommandError, match="Scopes must be"):
        call_command(
            "create_service_account",
            "ci-assistants",
            teams=["assistants"],
            admin="root",
            scopes=["frobnicate"],
            stdout=StringIO(),
        )

    assert row_counts() == before


def test_the_service_refuses_a_past_expiry_unless_asked_for_an_expired_token(admin, team):
    from core.errors import InvalidInput
    from registry import services

    account = services.service_account_create(actor=admin, name="ci-x", teams=[team])
    before = row_counts()

    with pytest.raises(InvalidInput, match="must expire in the future"):
        services.api_token_issue(
            actor=admin,
            service_account=account,
            label="t",
            scopes=["read"],
            expires_at=timezone.now() - timedelta(seconds=1),
        )

    assert row_counts() == before
