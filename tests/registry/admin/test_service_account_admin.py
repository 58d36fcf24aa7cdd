"""Administrators manage CI service accounts and tokens in the admin, through the services."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from audit.models import AuditEvent
from registry.models import ApiToken, ServiceAccount
from registry.services import hash_token
from tests.registry.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def _admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_administrator_creates_a_service_account_and_issues_a_token_shown_once():
    # Given an administrator and a team
    admin = UserFactory(is_superuser=True)
    team = TeamFactory(slug="assistants")
    client = _admin_client(admin)

    # When they add a service account in the admin
    response = client.post(
        "/admin/registry/serviceaccount/add/",
        {"name": "ci-assistants", "teams": [team.pk], "description": "main pipeline"},
    )

    # Then it exists with its own user, limited to the team, and the creation is audited
    assert response.status_code == 302
    account = ServiceAccount.objects.get(name="ci-assistants")
    assert list(account.teams.all()) == [team]
    assert not account.user.has_usable_password()
    assert AuditEvent.objects.filter(verb="service_account.created", actor=admin).count() == 1

    # When they issue a token
    response = client.post(
        f"/admin/registry/serviceaccount/{account.pk}/issue_token/",
        {"label": "main", "scopes": ["read", "register"], "valid_days": 30},
        follow=True,
    )

    # Then the raw token is shown once, and only its hash is stored
    shown = re.search(r"gbt_[0-9a-f]{8}_[A-Za-z0-9_-]+", response.content.decode())
    assert shown is not None
    token = ApiToken.objects.get(service_account=account)
    assert token.token_hash == hash_token(shown.group(0))
    assert token.scopes == ["read", "register"]
    page = client.get(f"/admin/registry/apitoken/{token.pk}/change/").content.decode()
    assert shown.group(0) not in page


def test_a_staff_member_who_is_not_an_administrator_cannot_create_service_accounts():
    # Given a staff member without superuser rights
    client = _admin_client(UserFactory(is_superuser=False))

    # When they try to add a service account
    response = client.post(
        "/admin/registry/serviceaccount/add/", {"name": "rogue", "teams": [TeamFactory().pk]}
    )

    # Then it is refused and nothing was created
    assert response.status_code == 403
    assert ServiceAccount.objects.count() == 0


def test_revoking_a_token_in_the_admin_refuses_it_on_the_next_request(api_client):
    # Given a service account token that works
    admin = UserFactory(is_superuser=True)
    team = TeamFactory()
    client = _admin_client(admin)
    client.post("/admin/registry/serviceaccount/add/", {"name": "ci-x", "teams": [team.pk]})
    account = ServiceAccount.objects.get(name="ci-x")
    response = client.post(
        f"/admin/registry/serviceaccount/{account.pk}/issue_token/",
        {"label": "main", "scopes": ["read"], "valid_days": 1},
        follow=True,
    )
    raw = re.search(r"gbt_[0-9a-f]{8}_[A-Za-z0-9_-]+", response.content.decode()).group(0)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.get("/api/v1/versions/").status_code == 200

    # When the administrator revokes it with the admin action
    token = ApiToken.objects.get(service_account=account)
    client.post(
        "/admin/registry/apitoken/",
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
    )

    # Then the very next API call is a 401
    assert api_client.get("/api/v1/versions/").status_code == 401
    token.refresh_from_db()
    assert token.revoked_at is not None
