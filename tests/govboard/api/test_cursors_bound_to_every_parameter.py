"""A cursor belongs to the whole question it was handed out for (issue 14): the list, its
order and every query parameter but the cursor and the page size
(``core.pagination.KeysetPagination``). No list names its filters for it, so one a list
gains later -- or one no list was written for, like the incidents' severity, tag and
search -- is bound as well."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from rest_framework.test import APIClient

from approvals.services.incidents import incident_open
from core.pagination import KeysetPagination
from tests.registry.factories import TeamFactory, team_member
from tests.releases.factories import ReleaseFactory
from tests.world import assert_problem

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
URL = "/api/v1/incidents/"


@pytest.fixture
def api() -> APIClient:
    """Eight incidents of one team: sev2/sev3 alternating, tagged mobile or web."""
    release = ReleaseFactory(team=TeamFactory(slug="payments"))
    engineer = team_member(release.team, "register_versions")
    for index in range(8):
        incident_open(
            actor=engineer,
            release=release,
            title=f"Declines up {index}",
            severity="sev2" if index % 2 else "sev3",
            tags=["mobile" if index % 2 else "web"],
            now=NOW,
        )
    client = APIClient()
    client.force_authenticate(engineer)
    return client


def next_cursor(response) -> str:
    assert response.status_code == 200, response.content[:300]
    (cursor,) = parse_qs(urlsplit(response.json()["next"]).query)["cursor"]
    return cursor


@pytest.mark.parametrize(
    ("walked", "other"),
    [
        ({"severity": "sev2"}, {"severity": "sev3"}),
        ({"tag": "mobile"}, {"tag": "web"}),
        ({"q": "Declines"}, {"q": "up"}),
        ({"severity": "sev2"}, {"severity": "sev2", "tag": "mobile"}),
        ({"unheard_of": "1"}, {}),
    ],
    ids=["severity", "tag", "search", "a filter added", "an unknown parameter"],
)
def test_a_cursor_is_refused_under_any_other_question(api, walked, other):
    cursor = next_cursor(api.get(URL, {**walked, "page_size": 2}))
    problem = assert_problem(api.get(URL, {**other, "cursor": cursor, "page_size": 2}), 400)
    assert list(problem["errors"]) == ["cursor"]


def test_the_same_question_in_another_parameter_order_or_page_size_keeps_its_cursor(api):
    # Given a cursor of ?severity=sev2&tag=mobile, two rows a page
    first = api.get(URL, {"severity": "sev2", "tag": "mobile", "page_size": 2})
    cursor = next_cursor(first)
    seen = [row["id"] for row in first.json()["results"]]

    # When the walk goes on with the parameters in another order and three rows a page
    rest = api.get(f"{URL}?page_size=3&tag=mobile&cursor={cursor}&severity=sev2")

    # Then it is the rest of the same set, nothing skipped or repeated
    assert rest.status_code == 200, rest.content[:300]
    seen += [row["id"] for row in rest.json()["results"]]
    assert len(seen) == len(set(seen)) == 4


def test_every_value_of_a_repeated_parameter_is_part_of_the_question(api):
    cursor = next_cursor(api.get(URL, {"tag": ["mobile", "web"], "page_size": 2}))
    refused = api.get(URL, {"tag": ["mobile"], "cursor": cursor, "page_size": 2})
    assert_problem(refused, 400)
    kept = api.get(URL, {"tag": ["web", "mobile"], "cursor": cursor, "page_size": 2})
    assert kept.status_code == 200


def test_a_cursors_length_does_not_grow_with_the_question(api):
    short = next_cursor(api.get(URL, {"q": "D", "page_size": 1}))
    long = next_cursor(api.get(URL, {"q": "D", "page_size": 1, "x": "y" * 900}))
    assert len(long) == len(short)


def test_no_list_names_its_filters_for_the_cursor():
    # The pagination binds every parameter: a per-view list of them would be a second answer
    from django.urls import get_resolver

    views = [
        getattr(pattern.callback, "view_class", None)
        for pattern in _patterns(get_resolver().url_patterns)
    ]
    assert [v for v in views if v is not None and hasattr(v, "cursor_bound_params")] == []
    assert KeysetPagination.unbound_query_params == ("cursor", "page_size")


def _patterns(patterns):
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            yield from _patterns(pattern.url_patterns)
        else:
            yield pattern
