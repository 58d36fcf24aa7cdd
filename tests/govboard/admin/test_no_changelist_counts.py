"""No admin changelist counts its table (issue 14): every ModelAdmin the site registers,
today's and tomorrow's, with and without a search and a filter, issues no COUNT(*) except
over a LIMITed subquery (a bounded badge)."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.registry.factories import UserFactory

pytestmark = pytest.mark.django_db

COUNT = re.compile(r"\bCOUNT\(", re.IGNORECASE)


def unbounded_counts(queries: list[dict]) -> list[str]:
    return [q["sql"] for q in queries if COUNT.search(q["sql"]) and "LIMIT" not in q["sql"]]


def changelists() -> list[str]:
    return sorted(
        f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for model in admin.site._registry
    )


@pytest.mark.parametrize("query", ["", "?q=no-such-row", "?q=a&o=1"])
def test_no_registered_changelist_counts_its_table(query):
    browser = Client()
    browser.force_login(UserFactory(is_superuser=True))
    found = {}
    for url in changelists():
        with CaptureQueriesContext(connection) as queries:
            response = browser.get(url + query)
        assert response.status_code == 200, url
        counts = unbounded_counts(queries.captured_queries)
        if counts:
            found[url] = counts
    assert found == {}


def test_every_registered_admin_is_uncounted_with_no_show_all():
    for model, model_admin in admin.site._registry.items():
        assert model_admin.show_full_result_count is False, model
        assert model_admin.list_max_show_all == 0, model
