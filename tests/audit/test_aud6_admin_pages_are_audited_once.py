"""AUD-6, the admin's own pages: every add, change and delete an administrator is offered
writes exactly its audit events (here the pages that go through a service).

The pages are read from ``admin.site._registry`` (the add/change/delete permissions an
administrator has); one that is neither a case here nor a plain audited page fails, so a
new editable model cannot reach the admin with its writes unaudited unseen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client

from audit.verbs import AuditVerb
from sso.models import BreakGlassAccount, GroupRoleMapping
from tests.approvals.test_policy_form import (
    ADD_URL,
    as_posted,
    change_url,
    new_policy_post,
    role_index,
)
from tests.audit.aud6 import Acting, admin_object_writes, assert_audited_once, log_mark
from tests.audit.aud6_admin_writes import plain_writes
from tests.registry.factories import TeamFactory, UserFactory, service_account_with_token

pytestmark = pytest.mark.django_db

# The plain ModelAdmin pages (people, groups, beat's schedules, teams, datasets, webhook
# endpoints, trusted signing keys) are audited by the one audited admin; their cases are
# in test_aud6_plain_admin_pages_are_audited_once.py.
PLAIN_WRITES = set(plain_writes())


@dataclass(frozen=True)
class Page:
    acting: Acting
    url: str
    form: dict
    verbs: tuple[AuditVerb, ...]


def _admin_client() -> tuple[object, Client]:
    admin = UserFactory(is_superuser=True)
    client = Client()
    client.force_login(admin)
    return admin, client


def _add_service_account(admin, client) -> Page:
    return Page(
        Acting(user=admin),
        "/admin/registry/serviceaccount/add/",
        {"name": "ci-aud6", "teams": [TeamFactory().pk], "description": "release CI"},
        (AuditVerb.SERVICE_ACCOUNT_CREATED,),
    )


def _change_service_account(admin, client) -> Page:
    account, _raw = service_account_with_token(teams=[TeamFactory()], admin=admin)
    return Page(
        Acting(user=admin),
        f"/admin/registry/serviceaccount/{account.pk}/change/",
        {
            "teams": [TeamFactory().pk],
            "description": "moved to the release team",
            "is_active": "on",
        },
        (AuditVerb.SERVICE_ACCOUNT_CHANGED,),
    )


def _mark_break_glass(admin, client) -> Page:
    return Page(
        Acting(user=admin),
        "/admin/sso/breakglassaccount/add/",
        {"user": UserFactory().pk, "reason": "IdP outage; the sealed envelope in the safe"},
        (AuditVerb.SSO_BREAK_GLASS_MARKED,),
    )


def _unmark_break_glass(admin, client) -> Page:
    account = BreakGlassAccount.objects.create(
        user=UserFactory(), reason="IdP outage", marked_by=admin
    )
    return Page(
        Acting(user=admin),
        f"/admin/sso/breakglassaccount/{account.pk}/delete/",
        {"post": "yes"},
        (AuditVerb.SSO_BREAK_GLASS_UNMARKED,),
    )


def _mapping() -> GroupRoleMapping:
    return GroupRoleMapping.objects.create(
        idp_group="gov-platform", team=TeamFactory(), permission="approvals.sign_as_platform"
    )


def _add_mapping(admin, client) -> Page:
    return Page(
        Acting(user=admin),
        "/admin/sso/grouprolemapping/add/",
        {
            "idp_group": "gov-product",
            "team": TeamFactory().pk,
            "permission": "approvals.sign_as_product",
        },
        (AuditVerb.SSO_MAPPING_CREATED,),
    )


def _change_mapping(admin, client) -> Page:
    mapping = _mapping()
    return Page(
        Acting(user=admin),
        f"/admin/sso/grouprolemapping/{mapping.pk}/change/",
        {
            "idp_group": mapping.idp_group,
            "team": mapping.team_id,
            "permission": "approvals.sign_as_security",
        },
        (AuditVerb.SSO_MAPPING_CHANGED,),
    )


def _delete_mapping(admin, client) -> Page:
    mapping = _mapping()
    return Page(
        Acting(user=admin),
        f"/admin/sso/grouprolemapping/{mapping.pk}/delete/",
        {"post": "yes"},
        (AuditVerb.SSO_MAPPING_DELETED,),
    )


def _add_policy(admin, client) -> Page:
    return Page(Acting(user=admin), ADD_URL, new_policy_post(), (AuditVerb.POLICY_CREATED,))


def _publish_policy(admin, client) -> Page:
    from approvals.models import GovernancePolicy

    policy = GovernancePolicy.objects.get(is_default=True)
    data = as_posted(client.get(change_url(policy)).context["editor"])
    data[f"roles-{role_index('ml_engineer')}-quorum"] = "2"
    return Page(Acting(user=admin), change_url(policy), data, (AuditVerb.POLICY_PUBLISHED,))


CASES: dict[tuple[str, str], Callable[..., Page]] = {
    ("registry.serviceaccount", "add"): _add_service_account,
    ("registry.serviceaccount", "change"): _change_service_account,
    ("sso.breakglassaccount", "add"): _mark_break_glass,
    ("sso.breakglassaccount", "delete"): _unmark_break_glass,
    ("sso.grouprolemapping", "add"): _add_mapping,
    ("sso.grouprolemapping", "change"): _change_mapping,
    ("sso.grouprolemapping", "delete"): _delete_mapping,
    ("approvals.governancepolicy", "add"): _add_policy,
    ("approvals.governancepolicy", "change"): _publish_policy,
}


def test_every_admin_page_write_is_a_case_with_no_exemption():
    # Given every add, change and delete the admin offers an administrator
    offered = admin_object_writes(UserFactory(is_superuser=True))

    # Then each is exercised, through a service (below) or the audited admin (the plain
    # pages' cases), and none is left unaudited
    assert offered == set(CASES) | PLAIN_WRITES
    assert not set(CASES) & PLAIN_WRITES


@pytest.mark.parametrize("write", sorted(CASES), ids=lambda w: f"{w[0]} {w[1]}")
def test_each_admin_page_write_writes_exactly_its_audit_events(write, default_policy):
    # Given an administrator on the page, and the object it is for
    admin, client = _admin_client()
    page = CASES[write](admin, client)
    mark = log_mark()

    # When they save it once
    response = client.post(page.url, page.form)

    # Then it succeeds and writes exactly its events, complete
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert_audited_once(mark, page.verbs, page.acting)
