"""A changelist's row links and the audit log's object links come from one reverse per page,
and are exactly what ``reverse`` gives for every row."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.admin.views.main import ChangeList
from django.test import Client
from django.urls import NoReverseMatch, reverse

from audit.models import AuditEvent
from core.admin_links import RowLinksChangeList, change_url_maker
from core.admin_site import SiteChangeList, site_changelist
from registry.models import ModelVersion, Team
from tests.registry.factories import ModelVersionFactory, UserFactory

KEYS = [7, "7", "a b", "x/y", "50%", "under_score", "colon:semi;", "ünï", "<tag>", "a?b#c"]


@pytest.mark.parametrize("key", KEYS)
def test_a_change_url_is_what_reverse_gives(key):
    made = change_url_maker(Team)(key)

    assert made == reverse("admin:registry_team_change", args=[quote(key)])


def test_a_model_without_a_change_page_fails_once_not_per_row():
    class Unregistered:
        class _meta:
            app_label = "nowhere"
            model_name = "nothing"

    with pytest.raises(NoReverseMatch):
        change_url_maker(Unregistered)


def test_every_admin_changelist_links_rows_through_one_reverse_per_page():
    class Plain(ChangeList):
        pass

    made = site_changelist(Plain)

    assert issubclass(made, SiteChangeList) and issubclass(made, RowLinksChangeList)
    assert issubclass(made, Plain)
    assert site_changelist(Plain) is made  # one class per class
    assert site_changelist(made) is made


@pytest.mark.django_db
def test_the_version_list_links_each_row_to_its_change_page():
    # Given three versions and a superuser
    versions = [ModelVersionFactory() for _ in range(3)]
    browser = Client()
    browser.force_login(UserFactory(is_superuser=True))

    # When they open the version list
    response = browser.get("/admin/registry/modelversion/")

    # Then each row links to the change page reverse names
    changelist = response.context["cl"]
    assert isinstance(changelist, RowLinksChangeList)
    for version in versions:
        url = reverse("admin:registry_modelversion_change", args=[quote(version.pk)])
        assert changelist.url_for_result(version) == url
        assert f'href="{url}"' in response.content.decode()
    assert ModelVersion.objects.count() == 3


@pytest.mark.django_db
def test_the_audit_log_links_each_object_to_its_change_page():
    from audit.subjects import object_links

    # Given events about two versions and one about a row of a kind without an admin page
    versions = [ModelVersionFactory() for _ in range(2)]
    events = [
        AuditEvent(object_type="registry.modelversion", object_id=str(version.pk))
        for version in versions
    ] + [AuditEvent(object_type="registry.no_such_kind", object_id="1")]

    # When the page names them
    links = object_links(events, admin_site=admin.site)

    # Then each version links to its change page, as reverse gives it
    assert links == {
        ("registry.modelversion", str(version.pk)): {
            "label": str(version),
            "url": reverse("admin:registry_modelversion_change", args=[quote(version.pk)]),
        }
        for version in versions
    }
