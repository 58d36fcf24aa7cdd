"""The incident API (issue 13): list, search and filter the incidents a caller may see, open
one on a release, read one with its timeline, add a timeline note. Refusals are problem
documents that change nothing; every page runs a fixed number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from approvals.choices import IncidentSeverity, IncidentSource, IncidentState
from approvals.models import Incident, IncidentTag, IncidentTimelineEntry
from approvals.services.incidents import incident_open
from audit.models import AuditEvent
from audit.verbs import AuditVerb
from registry.choices import TokenScope, VersionState
from registry.models import IdempotencyKey
from tests.registry.factories import (
    ModelVersionFactory,
    TeamFactory,
    UserFactory,
    service_account_with_token,
    team_member,
)
from tests.releases.factories import ReleaseFactory, anchor_version
from tests.world import assert_problem

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LIST = "/api/v1/incidents/"


def detail_url(incident) -> str:
    return f"/api/v1/incidents/{incident.pk}/"


def timeline_url(incident) -> str:
    return f"/api/v1/incidents/{incident.pk}/timeline/"


def session(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def token_client(team, scopes=(TokenScope.INCIDENTS, TokenScope.READ)) -> APIClient:
    _, token = service_account_with_token(teams=[team], scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def counts() -> dict[str, int]:
    return {
        "incidents": Incident.objects.count(),
        "timeline": IncidentTimelineEntry.objects.count(),
        "tags": IncidentTag.objects.count(),
        "audit": AuditEvent.objects.count(),
        "keys": IdempotencyKey.objects.count(),
    }


def states() -> list[tuple]:
    return sorted(Incident.objects.values_list("id", "state", "title", "severity", "summary"))


@pytest.fixture
def release():
    return ReleaseFactory(team=TeamFactory(slug="payments"))


@pytest.fixture
def engineer(release):
    return team_member(release.team, "register_versions")


@pytest.fixture
def viewer(release):
    return team_member(release.team, "view_team_registry")


@pytest.fixture
def other_release():
    return ReleaseFactory(team=TeamFactory(slug="search"))


def opened(release, engineer, title="Declines doubled on mobile", **fields):
    fields = {"severity": "sev2", "tags": ["mobile"], "now": NOW} | fields
    return incident_open(actor=engineer, release=release, title=title, **fields)


def body(target, **overrides) -> dict:
    return {
        "release": target.pk,
        "title": "Declines doubled on mobile",
        "severity": "sev2",
        "summary": "Support saw it first.",
        "tags": ["mobile", "Declines"],
    } | overrides


# Opening an incident.


def test_a_registrant_opens_an_incident_on_a_release_and_reads_it_back(release, engineer):
    # Given a registrant of the release's team / When they open an incident through the API
    version = anchor_version(release)
    response = session(engineer).post(
        LIST, body(release, versions=[version.pk], ring="guarded"), format="json"
    )

    # Then it is stored on the release, tagged, with its first timeline line and its event
    assert response.status_code == 201, response.content
    answer = response.json()
    incident = Incident.objects.get(pk=answer["id"])
    assert (incident.release_id, incident.team_id) == (release.pk, release.team_id)
    assert answer["label"] == f"INC-{incident.pk}"
    assert answer["tags"] == ["declines", "mobile"]
    assert answer["state"] == "open" and answer["source"] == "person"
    assert answer["opened_by"] == engineer.username
    assert answer["linked_release"] == {
        "id": release.pk,
        "name": release.name,
        "version": release.version,
        "state": release.state,
    }
    assert [v["id"] for v in answer["versions"]] == [version.pk]
    assert [line["author"] for line in answer["timeline"]] == [engineer.username]
    assert AuditEvent.objects.filter(verb=AuditVerb.INCIDENT_OPENED).count() == 1


def test_the_teams_ci_opens_an_incident_with_an_incidents_token(release):
    # Given the team's CI holding the incidents scope / When it opens an incident
    response = token_client(release.team).post(LIST, body(release), format="json")

    # Then it is opened by the CI's account
    assert response.status_code == 201, response.content
    incident = Incident.objects.select_related("opened_by").get(pk=response.json()["id"])
    assert list(incident.opened_by.service_account.teams.all()) == [release.team]
    assert response.json()["opened_by"] == incident.opened_by.username


def test_a_retry_with_the_same_key_returns_the_same_incident_and_stores_nothing_new(
    release, engineer
):
    # Given an incident opened with an Idempotency-Key
    client = session(engineer)
    first = client.post(LIST, body(release), format="json", HTTP_IDEMPOTENCY_KEY="inc-1")
    before = counts()

    # When the same request is sent again with the same key
    again = client.post(LIST, body(release), format="json", HTTP_IDEMPOTENCY_KEY="inc-1")

    # Then the answer is the first one, replayed, and nothing was added
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert counts() == before


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(release, engineer):
    client = session(engineer)
    client.post(LIST, body(release), format="json", HTTP_IDEMPOTENCY_KEY="inc-1")
    before = counts()

    response = client.post(
        LIST, body(release, title="Something else"), format="json", HTTP_IDEMPOTENCY_KEY="inc-1"
    )

    assert_problem(response, 422)
    assert counts() == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"severity": "sev9"}, "severity"),
        ({"tags": ["not a slug!"]}, "tags"),
        ({"tags": "mobile"}, "tags"),
        ({"release": "seven"}, "release"),
        ({"ring": "moon"}, "ring"),
        ({"versions": [10**9]}, "versions"),
        ({"owner": "someone"}, "owner"),
    ],
)
def test_a_bad_body_is_a_400_problem_with_nothing_stored(release, engineer, overrides, field):
    # Given a registrant / When they send a body with one bad field
    before = counts()
    response = session(engineer).post(LIST, body(release, **overrides), format="json")

    # Then it is a 400 problem naming the field, and nothing was stored
    problem = assert_problem(response, 400)
    assert field in problem["errors"]
    assert counts() == before


def test_a_body_without_a_title_or_release_is_a_400_with_nothing_stored(release, engineer):
    before = counts()

    response = session(engineer).post(LIST, {"severity": "sev2"}, format="json")

    problem = assert_problem(response, 400)
    assert {"release", "title"} <= set(problem["errors"])
    assert counts() == before


def test_another_teams_version_is_refused_like_a_missing_one(release, engineer, other_release):
    # Given a version of a team the registrant cannot see
    hidden = anchor_version(other_release)
    before = counts()

    # When it is named, and so is an id that does not exist
    client = session(engineer)
    named = client.post(LIST, body(release, versions=[hidden.pk]), format="json")
    missing = client.post(LIST, body(release, versions=[10**9]), format="json")

    # Then both are the same kind of 400, and nothing was stored
    assert assert_problem(named, 400)["detail"] == assert_problem(missing, 400)["detail"]
    assert counts() == before


def test_a_release_the_caller_may_not_see_is_a_404_with_nothing_stored(
    release, engineer, other_release
):
    before = counts()

    response = session(engineer).post(LIST, body(other_release), format="json")

    assert_problem(response, 404)
    assert counts() == before


@pytest.mark.parametrize("who", ["viewer", "superuser", "read_token"])
def test_a_caller_who_sees_the_team_but_may_not_work_its_incidents_gets_403(release, viewer, who):
    # Given a read-only viewer, a superuser (incidents are not a break-glass verb) and a
    # read-only token of the team
    client = {
        "viewer": lambda: session(viewer),
        "superuser": lambda: session(UserFactory(is_superuser=True)),
        "read_token": lambda: token_client(release.team, scopes=(TokenScope.READ,)),
    }[who]()
    before = counts()

    # When they try to open an incident
    response = client.post(LIST, body(release), format="json")

    # Then it is a 403 problem and nothing changed
    assert_problem(response, 403)
    assert counts() == before


# Reading incidents.


def test_the_list_shows_the_callers_teams_incidents_newest_first(release, engineer, other_release):
    # Given two incidents of the caller's team and one of another team
    older = opened(release, engineer, now=NOW - timedelta(hours=2))
    newer = opened(release, engineer, now=NOW)
    outsider = team_member(other_release.team, "register_versions")
    hidden = opened(other_release, outsider, now=NOW + timedelta(hours=1))

    # When the team's engineer lists incidents
    response = session(engineer).get(LIST)

    # Then only the team's are listed, newest first, without a count
    assert response.status_code == 200
    answer = response.json()
    assert [row["id"] for row in answer["results"]] == [newer.pk, older.pk]
    assert hidden.pk not in {row["id"] for row in answer["results"]}
    assert answer["next"] is None and "count" not in answer


def test_pages_walk_every_incident_once_by_cursor(release, engineer):
    ids = [opened(release, engineer, now=NOW + timedelta(minutes=i)).pk for i in range(7)]
    client = session(engineer)

    seen, url, params = [], LIST, {"page_size": 3}
    while url:
        page = client.get(url, params).json()
        seen += [row["id"] for row in page["results"]]
        url, params = page["next"], None

    assert seen == list(reversed(ids))


def test_another_teams_incident_is_a_404_like_a_missing_one(release, engineer, other_release):
    outsider = team_member(other_release.team, "register_versions")
    hidden = opened(other_release, outsider)
    client = session(engineer)

    forbidden = client.get(detail_url(hidden))
    missing = client.get("/api/v1/incidents/999999999/")

    assert assert_problem(forbidden, 404) == assert_problem(missing, 404)
    assert hidden.title not in forbidden.content.decode()


def test_the_detail_shows_timeline_tags_factors_retrospective_release_and_versions(
    release, engineer
):
    # Given a resolved incident with a note
    from approvals.services.incidents import incident_note, incident_resolve

    incident = opened(release, engineer, versions=[anchor_version(release)], tags=["latency"])
    incident_note(actor=engineer, incident=incident, text="Flag off.", now=NOW)
    incident_resolve(
        actor=engineer,
        incident=incident,
        retrospective="The threshold moved with the traffic mix.",
        contributing_factors=["No canary for mobile"],
        now=NOW + timedelta(hours=1),
    )

    # When a viewer of the team reads it
    answer = session(team_member(release.team, "view_team_registry")).get(detail_url(incident))

    # Then every part is there
    assert answer.status_code == 200
    data = answer.json()
    assert data["state"] == IncidentState.RESOLVED
    assert data["tags"] == ["latency"]
    assert data["contributing_factors"] == ["No canary for mobile"]
    assert data["retrospective"] == "The threshold moved with the traffic mix."
    assert [line["text"] for line in data["timeline"]] == [
        "Opened (opened by a person), sev2: Declines doubled on mobile",
        "Flag off.",
        "Resolved with a retrospective.",
    ]
    assert data["linked_release"]["id"] == release.pk
    version = anchor_version(release)
    assert data["versions"] == [
        {
            "id": version.pk,
            "team": release.team.slug,
            "model": version.registered_model.name,
            "version": version.version,
            "state": version.state,
        }
    ]


@pytest.fixture
def searchable(release, engineer):
    """Four incidents of one team, to filter and search."""
    second = ReleaseFactory(team=release.team)
    return {
        "latency": opened(release, engineer, "Latency spike in eu", tags=["latency"]),
        "declines": opened(release, engineer, "Declines doubled", severity="sev1", tags=["mobile"]),
        "drift": opened(second, engineer, "Drift on segment eu", severity="sev3", tags=["drift"]),
        "lat2": opened(second, engineer, "Latency again", severity="sev3", tags=["latency"]),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"severity": "sev3"}, {"drift", "lat2"}),
        ({"state": "open"}, {"latency", "declines", "drift", "lat2"}),
        ({"state": "resolved"}, set()),
        ({"tag": "latency"}, {"latency", "lat2"}),
        ({"tag": "LATENCY"}, {"latency", "lat2"}),
        ({"tag": "late"}, set()),  # a tag is exact, never a prefix
        ({"q": "Latency"}, {"latency", "lat2"}),  # a title prefix
        ({"q": "Latency spike in eu"}, {"latency"}),  # the exact title
        ({"q": "spike"}, set()),  # never a substring
        ({"q": "drift"}, {"drift"}),  # a tag's exact name
        ({"team": "payments"}, {"latency", "declines", "drift", "lat2"}),
        ({"team": "search"}, set()),
        ({"tag": "latency", "severity": "sev3"}, {"lat2"}),
    ],
)
def test_the_list_filters_by_state_severity_tag_team_and_searches_titles(
    searchable, engineer, params, expected
):
    response = session(engineer).get(LIST, params)

    assert response.status_code == 200, response.content
    names = {pk: name for name, pk in ((n, i.pk) for n, i in searchable.items())}
    assert {names[row["id"]] for row in response.json()["results"]} == expected


def test_the_list_filters_by_release_and_searches_by_incident_id(searchable, engineer, release):
    client = session(engineer)

    by_release = client.get(LIST, {"release": release.pk}).json()["results"]
    by_id = client.get(LIST, {"q": f"INC-{searchable['drift'].pk}"}).json()["results"]

    assert {row["id"] for row in by_release} == {
        searchable["latency"].pk,
        searchable["declines"].pk,
    }
    assert [row["id"] for row in by_id] == [searchable["drift"].pk]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"state": "closed"}, "state"),
        ({"severity": "sev9"}, "severity"),
        ({"release": "seven"}, "release"),
        ({"release": "0"}, "release"),
        ({"release": "-3"}, "release"),
    ],
)
def test_a_bad_filter_value_is_a_400_problem(engineer, params, name):
    response = session(engineer).get(LIST, params)

    assert name in assert_problem(response, 400)["errors"]


# The timeline.


def test_a_registrant_adds_a_note_to_the_timeline(release, engineer):
    incident = opened(release, engineer)

    response = session(engineer).post(
        timeline_url(incident), {"text": "Rolled back the mobile flag."}, format="json"
    )

    assert response.status_code == 201, response.content
    assert [line["text"] for line in response.json()["timeline"]][-1] == (
        "Rolled back the mobile flag."
    )
    assert AuditEvent.objects.filter(verb=AuditVerb.INCIDENT_NOTE_ADDED).count() == 1


def test_a_note_retried_with_the_same_key_is_added_once(release, engineer):
    incident = opened(release, engineer)
    client = session(engineer)
    note = {"text": "Paged the on-call."}
    first = client.post(timeline_url(incident), note, format="json", HTTP_IDEMPOTENCY_KEY="n-1")
    before = counts()

    again = client.post(timeline_url(incident), note, format="json", HTTP_IDEMPOTENCY_KEY="n-1")

    assert again.json() == first.json()
    assert counts() == before


@pytest.mark.parametrize("note", [{"text": ""}, {}, {"text": "ok", "author": "x"}, ["text"]])
def test_a_bad_note_is_a_400_with_nothing_stored(release, engineer, note):
    incident = opened(release, engineer)
    before, was = counts(), states()

    response = session(engineer).post(timeline_url(incident), note, format="json")

    assert_problem(response, 400)
    assert (counts(), states()) == (before, was)


def test_a_note_by_a_viewer_is_a_403_and_on_another_teams_incident_a_404(
    release, engineer, viewer, other_release
):
    incident = opened(release, engineer)
    outsider = team_member(other_release.team, "register_versions")
    read_token = token_client(release.team, scopes=(TokenScope.READ,))
    before, was = counts(), states()

    by_viewer = session(viewer).post(timeline_url(incident), {"text": "Hi."}, format="json")
    by_outsider = session(outsider).post(timeline_url(incident), {"text": "Hi."}, format="json")
    by_read_token = read_token.post(timeline_url(incident), {"text": "Hi."}, format="json")

    assert_problem(by_viewer, 403)
    assert_problem(by_outsider, 404)
    assert_problem(by_read_token, 403)
    assert (counts(), states()) == (before, was)


# Fixed query counts.


def _bulk_incidents(release, actor, n: int, *, start: int) -> None:
    """``n`` incidents of ``release``, each with two tags and a timeline line, in bulk."""
    tags = [IncidentTag.objects.get_or_create(name=name)[0] for name in ("latency", "eu")]
    incidents = Incident.objects.bulk_create(
        Incident(
            team=release.team,
            release=release,
            title=f"Latency spike {i}",
            severity=IncidentSeverity.SEV3,
            source=IncidentSource.PERSON,
            opened_by=actor,
            opened_at=NOW + timedelta(minutes=i),
        )
        for i in range(start, start + n)
    )
    Incident.tags.through.objects.bulk_create(
        Incident.tags.through(incident=incident, incidenttag=tag)
        for incident in incidents
        for tag in tags
    )
    IncidentTimelineEntry.objects.bulk_create(
        IncidentTimelineEntry(incident=incident, author=actor, at=incident.opened_at, text="x")
        for incident in incidents
    )


def _queries(client, url: str, params: dict | None = None) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content[:300]
    return len(ctx.captured_queries), response.json()


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"page_size": 200},
        {"q": "Latency"},
        {"tag": "latency", "state": "open", "severity": "sev3"},
        {"team": "payments"},
    ],
)
@pytest.mark.parametrize("caller", ["engineer", "token"])
def test_a_list_page_runs_the_same_queries_at_20_and_200_incidents(
    release, engineer, params, caller
):
    client = session(engineer) if caller == "engineer" else token_client(release.team)
    _bulk_incidents(release, engineer, 20, start=0)
    _queries(client, LIST, params)  # warms the process's caches (content types)
    small, first = _queries(client, LIST, params)

    _bulk_incidents(release, engineer, 180, start=20)

    large, second = _queries(client, LIST, params)
    assert large == small
    assert len(second["results"]) > len(first["results"]) or len(first["results"]) == 50
    assert all(row["tags"] == ["eu", "latency"] for row in second["results"])


def test_the_detail_runs_the_same_queries_with_2_or_40_timeline_lines_tags_and_versions(
    release, engineer
):
    client = session(engineer)
    incident = opened(release, engineer)

    def grow(n: int, start: int) -> None:
        for i in range(start, start + n):
            IncidentTimelineEntry.objects.create(
                incident=incident, author=engineer, at=NOW + timedelta(minutes=i), text=f"{i}"
            )
            incident.tags.add(IncidentTag.objects.create(name=f"tag-{i}"))
            incident.versions.add(
                ModelVersionFactory(registered_model__team=release.team, state=VersionState.DRAFT)
            )

    grow(2, 0)
    _queries(client, detail_url(incident))
    small, _ = _queries(client, detail_url(incident))

    grow(38, 2)

    large, answer = _queries(client, detail_url(incident))
    assert large == small
    assert (len(answer["timeline"]), len(answer["tags"]), len(answer["versions"])) == (41, 41, 40)


# Indexes (PostgreSQL: SQLite has no pattern operator classes).


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans only")
@pytest.mark.parametrize(
    ("params", "index"),
    [
        ({}, "incident_opened_keyset"),
        ({"q": "Latency"}, "incident_title_prefix"),
        ({"q": "Latency spike 3"}, "incident_title_prefix"),
    ],
)
def test_the_newest_first_page_and_the_title_search_can_use_their_indexes(
    release, engineer, params, index
):
    # Given incidents, and a planner told to avoid scanning the table
    from django.http import QueryDict

    from approvals.incidents_api import filtered_incidents

    _bulk_incidents(release, engineer, 20, start=0)
    query = QueryDict(mutable=True)
    query.update(params)
    page = filtered_incidents(UserFactory(is_superuser=True), query)[:51]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")

        # When the list's page query is planned
        plan = page.explain()

        cursor.execute("SET LOCAL enable_seqscan = on")

    # Then it reads the index (a LIKE 'term%' outside the C collation needs pattern ops)
    assert index in plan, plan


def test_a_list_page_holds_each_incidents_tags_as_a_list_not_a_queryset_per_row(release, engineer):
    # Given 30 incidents with two tags each
    from django.http import QueryDict

    from approvals.incidents_api import filtered_incidents
    from approvals.selectors import INCIDENT_TAGS

    _bulk_incidents(release, engineer, 30, start=0)
    reader = UserFactory(is_superuser=True)

    # When a page of the list is read and every row's tags with it
    with CaptureQueriesContext(connection) as ctx:
        rows = list(filtered_incidents(reader, QueryDict())[:30])
        tags = [[tag.name for tag in getattr(row, INCIDENT_TAGS)] for row in rows]

    # Then three queries (whether the reader is a service account, the page, every row's
    # tags), each row's tags a plain list in name order, and no queryset built per row to
    # hold them (Django's cache of ``tags``)
    assert len(ctx.captured_queries) == 3
    assert tags == [["eu", "latency"]] * 30
    assert all("tags" not in getattr(row, "_prefetched_objects_cache", {}) for row in rows)
