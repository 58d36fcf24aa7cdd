"""An SSO user signs off in the admin after a fresh sign-in at the provider.

Runs once approvals has the IdP re-authentication method (``ReauthMethod.IDP``, the
``idp_authenticated_at`` parameter of ``signoff_record`` and the sign form's link: see
docs/adr/0009); skipped before that."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from approvals.choices import ReauthMethod
from approvals.models import SignOff
from audit.models import AuditEvent
from sso.models import GroupRoleMapping
from tests.approvals.factories import request_in_review
from tests.sso.conftest import back_to_govboard, sso_login

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not hasattr(ReauthMethod, "IDP"), reason="approvals does not take IdP re-authentication yet"
    ),
]
User = get_user_model()


def test_an_sso_user_signs_off_only_after_a_fresh_idp_sign_in(
    sso_settings, oidc_provider, govboard
):
    # Given a request in review, and kate mapped to its team's security approver role
    request = request_in_review()
    team = request.version.registered_model.team
    GroupRoleMapping.objects.create(
        idp_group="gov-security", team=team, permission="approvals.sign_as_security"
    )
    sso_login(govboard, oidc_provider, "kate")
    sign_page = f"/admin/approvals/promotionrequest/{request.pk}/sign/"

    # When she opens the sign form / Then it offers the re-authentication at the provider
    page = govboard.get(sign_page)
    assert page.status_code == 200
    assert b"/sso/reauth/?next=" in page.content

    # When she signs without re-authenticating / Then it is refused, nothing is signed
    refused = govboard.post(sign_page, {"role": "security", "meaning": "Approved"})
    assert refused.status_code == 200
    assert not SignOff.objects.exists()

    # When she signs in again at the provider and then signs
    start = govboard.get("/sso/reauth/", {"next": sign_page})
    back_to_govboard(govboard, oidc_provider.authorize(start["Location"], username="kate"))
    assert oidc_provider.asked_for_credentials
    signed = govboard.post(sign_page, {"role": "security", "meaning": "Approved"})

    # Then the sign-off is recorded with the IdP as its re-authentication
    assert signed.status_code == 302, signed.content[:2000]
    signoff = SignOff.objects.get()
    assert (signoff.signer.username, signoff.role, signoff.reauth_method) == (
        "kate",
        "security",
        ReauthMethod.IDP,
    )
    event = AuditEvent.objects.get(verb="promotion.signed")
    assert event.data["reauthenticated_with"] == "idp"

    # And she cannot sign again: the sign page is now a refusal (she signed already)
    again = govboard.post(sign_page, {"role": "security", "meaning": "Approved"})
    assert again.status_code == 403
    assert SignOff.objects.count() == 1
