"""Where each person lands after signing in, and the site-wide fixes of issue 11: the API
docs from pinned static files, a favicon, times that name their zone, plural names."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import formats

from govboard.landing import landing_url_name
from tests.approvals.factories import request_in_review
from tests.registry.factories import (
    RegisteredModelFactory,
    TeamFactory,
    UserFactory,
    approver,
    manager,
    ready_version,
    team_member,
)

pytestmark = pytest.mark.django_db
OUR_APPS = ("registry", "approvals", "audit", "identity", "sso", "reports")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_site_root_sends_a_visitor_to_sign_in_and_back_to_the_root():
    response = Client().get("/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=%2F"


def test_signing_in_without_a_next_page_goes_to_the_root_which_knows_who_you_are():
    # Given a board member
    team = TeamFactory(slug="assistants")
    reviewer = approver(team, "platform")

    # When they sign in on the admin's login page, then follow the redirects
    login = Client().post(
        "/admin/login/", {"username": reviewer.username, "password": "correct horse battery staple"}
    )
    assert (login.status_code, login["Location"]) == (302, "/")

    # Then the root sends them to their queue
    client = client_for(reviewer)
    assert client.get("/")["Location"] == "/admin/awaiting/"


def test_each_person_lands_where_their_work_is():
    # Given an approver, a governance manager, an auditor, a model owner, a superuser
    # and a plain staff member
    team = TeamFactory(slug="assistants")
    auditor = UserFactory(username="audrey")
    auditor.groups.add(Group.objects.get(name="Auditors"))
    owner = team_member(team, "register_versions", username="olga")
    ready_version(registered_model=RegisteredModelFactory(team=team, owner=owner))
    people = {
        "approver": approver(team, "security"),
        "manager": manager(team),
        "auditor": auditor,
        "owner": owner,
        "superuser": UserFactory(is_superuser=True),
        "staff": UserFactory(),
    }

    # When each opens the site root
    landed = {name: client_for(user).get("/")["Location"] for name, user in people.items()}

    # Then each lands on their page, and the rule says the same
    assert landed == {
        "approver": "/admin/awaiting/",
        "manager": "/admin/dashboard/",
        "auditor": "/admin/audit/auditevent/",
        "owner": "/admin/my-models/",
        "superuser": "/admin/",
        "staff": "/admin/",
    }
    assert landing_url_name(people["approver"]) == "admin:awaiting"


def test_view_site_leads_to_the_landing_page_not_a_404():
    reviewer = approver(TeamFactory(slug="assistants"), "platform")
    page = client_for(reviewer).get("/admin/")

    assert 'href="/">View site</a>' in page.content.decode()


@pytest.mark.parametrize(
    ("url", "dist"), [("/api/docs/", "swagger-ui-dist"), ("/api/redoc/", "redoc")]
)
def test_the_api_docs_load_their_scripts_from_this_server(url, dist):
    response = Client().get(url)

    html = response.content.decode()
    assert response.status_code == 200
    assert f"/static/drf_spectacular_sidecar/{dist}/" in html
    # Every script, style and image is a path on this host: nothing from a CDN.
    assert re.findall(r'(?:src|href)="(https?:)?//', html) == []


def test_the_favicon_answers_and_every_admin_page_links_it():
    icon = Client().get("/favicon.ico")
    login = Client().get("/admin/login/")

    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/x-icon"
    assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert '<link rel="icon" href="/static/core/favicon.svg"' in login.content.decode()


def test_moments_are_written_with_their_zone():
    moment = datetime(2026, 12, 2, 16, 28, tzinfo=UTC)

    assert formats.date_format(moment, "DATETIME_FORMAT") == "2 Dec 2026, 16:28 UTC"
    assert formats.date_format(moment, "SHORT_DATETIME_FORMAT") == "2026-12-02 16:28 UTC"


def test_an_admin_list_shows_times_with_their_zone():
    request = request_in_review(registered_model__team=TeamFactory(slug="assistants"))
    reviewer = approver(request.version.registered_model.team, "platform")

    page = client_for(reviewer).get("/admin/approvals/promotionrequest/")

    created = formats.date_format(request.created_at, "DATETIME_FORMAT")
    assert created.endswith(" UTC")
    assert created in page.content.decode()


def test_no_model_of_ours_has_a_misspelt_plural():
    # "deliverys", "leafs": a plural Django made by adding an "s"
    wrong = [
        (model._meta.label, str(model._meta.verbose_name_plural))
        for model in apps.get_models()
        if model._meta.app_label in OUR_APPS
        and re.search(r"[^aeiou]ys$|[^e]afs$", str(model._meta.verbose_name_plural))
    ]
    assert wrong == []
