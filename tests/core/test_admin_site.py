"""The one admin site: ours, branded, and apps add whole pages to it by name."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.http import HttpResponse
from django.test import override_settings
from django.urls import path, reverse

from core.admin_site import GovboardAdminSite

probe_site = GovboardAdminSite(name="probe")
probe_site.register_page("probe/", lambda request: HttpResponse("probe page"), name="probe")
urlpatterns = [path("probe-admin/", probe_site.urls)]


def test_the_admin_site_is_govboards_own_and_says_govboard():
    assert isinstance(admin.site._wrapped, GovboardAdminSite)
    assert admin.site.site_header == "govboard"
    assert admin.site.site_title == "govboard"


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_a_registered_page_is_reversed_by_name_and_shown_only_to_staff(client, django_user_model):
    url = reverse("probe:probe")
    assert url == "/probe-admin/probe/"

    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert "/probe-admin/login/" in anonymous["Location"]

    client.force_login(django_user_model.objects.create_user("staffer", is_staff=True))
    shown = client.get(url)
    assert shown.status_code == 200
    assert shown.content == b"probe page"


def test_two_pages_cannot_share_a_name():
    site = GovboardAdminSite(name="twice")
    site.register_page("one/", lambda request: HttpResponse(), name="same")
    with pytest.raises(ValueError, match="already registered"):
        site.register_page("two/", lambda request: HttpResponse(), name="same")
