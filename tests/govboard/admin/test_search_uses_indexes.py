"""Admin search uses indexes (issue 14): no registered changelist, today's or tomorrow's,
turns a search term into ``LIKE '%term%'`` or ``UPPER(col)`` (which no index answers), and
the version and request lists find a version by checksum, "name version", a name prefix
or an exact version."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.approvals.factories import PromotionRequestFactory
from tests.registry.factories import ModelVersionFactory, RegisteredModelFactory, UserFactory

pytestmark = pytest.mark.django_db

TERM = "zqx-term"
# A leading wildcard, or a case-folded column: a scan on every backend.
UNINDEXED = re.compile(rf"LIKE\s+\S*'%{TERM}|UPPER\(", re.IGNORECASE)


def searchable_changelists() -> list[str]:
    return sorted(
        f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for model, model_admin in admin.site._registry.items()
        if model_admin.search_fields
    )


def test_no_registered_changelist_searches_with_a_leading_wildcard_or_a_case_fold():
    browser = Client()
    browser.force_login(UserFactory(is_superuser=True))
    found = {}
    urls = searchable_changelists()
    assert len(urls) >= 15  # every governed list with a box, not an empty loop
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            response = browser.get(url, {"q": TERM})
        assert response.status_code == 200, url
        scans = [q["sql"] for q in queries.captured_queries if UNINDEXED.search(q["sql"])]
        if scans:
            found[url] = scans
    assert found == {}


def test_an_icontains_search_would_have_been_caught():
    # The check above sees Django's default search: without the site's rule it is a scan.
    from registry.models import Team

    with CaptureQueriesContext(connection) as queries:
        list(Team.objects.filter(name__icontains=TERM))
    assert UNINDEXED.search(queries.captured_queries[0]["sql"])


@pytest.fixture
def versions():
    scorer = RegisteredModelFactory(name="fraud-scorer")
    ranker = RegisteredModelFactory(name="fraud-ranker")
    other = RegisteredModelFactory(name="support-lora")
    return {
        "scorer": ModelVersionFactory(registered_model=scorer, version="1.4.0"),
        "ranker": ModelVersionFactory(registered_model=ranker, version="2.0.0"),
        "lora": ModelVersionFactory(registered_model=other, version="1.4.0"),
    }


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("checksum of scorer", {"scorer"}),
        ("fraud-scorer 1.4.0", {"scorer"}),
        ("fraud-", {"scorer", "ranker"}),
        ("fraud-scorer", {"scorer"}),
        ("1.4.0", {"scorer", "lora"}),
        ("scorer", set()),  # an infix is not a prefix: no scan to find it
        ("  fraud-scorer   1.4.0 ", {"scorer"}),
    ],
)
def test_the_version_and_request_lists_find_versions_by_indexed_terms(
    term, expected, versions, admin_client
):
    if term == "checksum of scorer":
        term = versions["scorer"].checksum.upper()
    requests = {name: PromotionRequestFactory(version=v) for name, v in versions.items()}

    found = admin_client.get(reverse("admin:registry_modelversion_changelist"), {"q": term})
    listed = admin_client.get(reverse("admin:approvals_promotionrequest_changelist"), {"q": term})

    assert {n for n, v in versions.items() if v in found.context["cl"].result_list} == expected
    assert {n for n, r in requests.items() if r in listed.context["cl"].result_list} == expected
