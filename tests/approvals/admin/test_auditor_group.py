"""Every installation has a read-only auditor group (approvals migration 0005): it sees
everything in the admin, changes nothing, and signs nothing."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management.sql import emit_post_migrate_signal
from django.test import Client

from approvals import services
from approvals.apps import AUDITOR_APP_LABELS, AUDITOR_GROUP
from approvals.choices import ApproverRole
from core import permissions
from core.errors import NotPermitted
from tests.approvals.factories import governance_row_counts, request_in_review
from tests.registry.factories import PASSWORD, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

# Service accounts and their tokens are administrators' business (superusers only).
ADMINISTRATORS_ONLY = {"registry.serviceaccount", "registry.apitoken"}


def governance_changelists() -> list[str]:
    """The changelist of every model the admin shows in the apps auditors read."""
    return sorted(
        f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for model in admin.site._registry
        if model._meta.app_label in AUDITOR_APP_LABELS
        and model._meta.label_lower not in ADMINISTRATORS_ONLY
    )


def auditor():
    user = UserFactory()
    user.groups.add(Group.objects.get(name=AUDITOR_GROUP))
    return user


def auditor_client():
    client = Client()
    client.force_login(auditor())
    return client


def test_after_migrate_the_auditor_group_holds_exactly_the_view_permissions():
    # Given a migrated database / Then the group exists with every view permission of the
    # governance apps, auth and guardian, and nothing else
    group = Group.objects.get(name=AUDITOR_GROUP)
    held = set(group.permissions.values_list("content_type__app_label", "codename"))
    expected = set(
        Permission.objects.filter(
            codename__startswith="view_", content_type__app_label__in=AUDITOR_APP_LABELS
        ).values_list("content_type__app_label", "codename")
    )
    assert held == expected
    assert all(codename.startswith("view_") for _, codename in held)
    assert not any(codename.startswith("sign_as_") for _, codename in held)
    # It includes the history tables and the global "see every team" grant
    assert ("registry", "view_historicalmodelversion") in held
    assert ("approvals", "view_historicalgovernancepolicy") in held
    assert ("registry", "view_team_registry") in held
    assert ("auth", "view_user") in held
    assert ("guardian", "view_userobjectpermission") in held


def test_an_auditor_opens_every_admin_changelist():
    client = auditor_client()
    urls = governance_changelists()
    assert "/admin/approvals/governancepolicy/" in urls
    assert "/admin/audit/auditevent/" in urls
    assert {url: client.get(url).status_code for url in urls} == dict.fromkeys(urls, 200)


def test_an_auditor_sees_every_team_in_the_registry():
    first, second = TeamFactory(), TeamFactory()
    assert set(permissions.teams_for(auditor())) >= {first, second}


def test_an_auditor_opens_a_policy_read_only_and_is_refused_adding_or_changing_it(
    default_policy,
):
    # Given an auditor in the admin
    client = auditor_client()
    before = (governance_row_counts(), default_policy.version)
    url = f"/admin/approvals/governancepolicy/{default_policy.pk}/change/"

    # Then the policy opens read-only, and adding or saving is forbidden
    assert client.get(url).status_code == 200
    assert client.get("/admin/approvals/governancepolicy/add/").status_code == 403
    assert client.post(url, {"name": "mine now"}).status_code == 403
    assert client.get("/admin/registry/team/add/").status_code == 403
    team = TeamFactory()
    assert client.post(f"/admin/registry/team/{team.pk}/change/", {"name": "x"}).status_code == 403
    assert client.get("/admin/auth/user/add/").status_code == 403
    default_policy.refresh_from_db()
    team.refresh_from_db()
    assert (governance_row_counts(), default_policy.version, team.name) == (
        before[0],
        before[1],
        team.slug.title(),
    )


def test_an_auditor_cannot_sign_for_any_role():
    # Given a request in review and an auditor (who re-enters a correct password)
    request = request_in_review()
    team = request.version.registered_model.team
    person = auditor()
    before = governance_row_counts()

    # Then the group grants no signing role on the team
    assert not any(
        permissions.allowed(person, permissions.Verb.SIGN, team, role=r)
        for r in ApproverRole.values
    )

    # And every sign-off the auditor attempts is refused, with nothing written
    for role in request.policy_snapshot["required_roles"]:
        with pytest.raises(NotPermitted):
            services.signoff_record(actor=person, request=request, role=role, password=PASSWORD)
    assert governance_row_counts() == before


def test_a_later_migrate_tops_up_view_permissions_of_new_models_and_nothing_else():
    # Given a model added after the group was made (its permissions, as Django makes them)
    content_type = ContentType.objects.create(app_label="approvals", model="latermodel")
    new = {
        action: Permission.objects.create(
            content_type=content_type, codename=f"{action}_latermodel", name=action
        )
        for action in ("view", "add", "change", "delete")
    }
    group = Group.objects.get(name=AUDITOR_GROUP)
    assert new["view"] not in group.permissions.all()

    # When migrate finishes (its post_migrate signal)
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    # Then the group has the new view permission and none of the others
    held = set(group.permissions.all())
    assert new["view"] in held
    assert not {new["add"], new["change"], new["delete"]} & held
    assert all(p.codename.startswith("view_") for p in held)
