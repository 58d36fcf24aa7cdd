"""The audit log in the admin: newest first; filters by verb, actor, team, model and
date range; search by model name on the indexed name column (never LIKE '%…%'); objects
named and linked; the same queries at 20 and at 2,000 events."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.verbs import AuditVerb
from core import permissions
from tests.registry.factories import ModelVersionFactory, RegisteredModelFactory, UserFactory

pytestmark = pytest.mark.django_db


def unbounded_counts(queries) -> list[str]:
    """COUNT queries not limited to a bounded subquery (a count over a growing table)."""
    return [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and " LIMIT " not in q["sql"]]


AUDIT_LOG = reverse("admin:audit_auditevent_changelist")
LEADING_WILDCARD = re.compile(r"LIKE\s+'%", re.IGNORECASE)


def event_about(obj, verb: AuditVerb, *, actor=None, at: datetime | None = None) -> AuditEvent:
    return AuditEvent(
        actor=actor,
        actor_label=f"user:{actor.username}" if actor else "system",
        verb=verb,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        team_id=obj.team.pk,
        occurred_at=at or timezone.now(),
    )


def listed(response) -> list[int]:
    return [event.pk for event in response.context["cl"].result_list]


@pytest.fixture
def two_models():
    """Two teams' versions (fraud-scorer on one team, churn-predictor on another) with
    events by two people on different days."""
    fraud = ModelVersionFactory(registered_model=RegisteredModelFactory(name="fraud-scorer"))
    churn = ModelVersionFactory(registered_model=RegisteredModelFactory(name="churn-predictor"))
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    day = timezone.now() - timedelta(days=10)
    events = AuditEvent.objects.bulk_create(
        [
            event_about(fraud.registered_model, AuditVerb.MODEL_REGISTERED, actor=alice, at=day),
            event_about(fraud, AuditVerb.VERSION_REGISTERED, actor=alice, at=day),
            event_about(fraud, AuditVerb.VERSION_APPROVED, actor=bob, at=day + timedelta(days=5)),
            event_about(churn, AuditVerb.VERSION_REGISTERED, actor=bob, at=day + timedelta(days=6)),
        ]
    )
    return {"fraud": fraud, "churn": churn, "alice": alice, "bob": bob, "events": events}


@pytest.fixture
def administrator(client):
    admin = UserFactory(is_superuser=True)
    client.force_login(admin)
    return admin


def test_the_log_lists_the_newest_event_first_with_objects_named_and_linked(
    client, administrator, two_models
):
    # When an administrator opens the audit log
    response = client.get(AUDIT_LOG)

    # Then the events come newest first
    ids = [event.pk for event in two_models["events"]]
    assert listed(response) == sorted(ids, reverse=True)
    # And each object is named (not "registry.modelversion:7") and linked to its page
    page = response.content.decode()
    fraud = two_models["fraud"]
    version_url = reverse("admin:registry_modelversion_change", args=[fraud.pk])
    assert f'<a href="{version_url}">{fraud}</a>' in page
    assert f"registry.modelversion:{fraud.pk}" not in page


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"verb": "version.registered"}, [1, 3]),
        ({"actor": "bob"}, [2, 3]),
        ({"model": "fraud-scorer"}, [0, 1, 2]),
        ({"model": "fraud"}, []),  # the filter matches whole names; search takes prefixes
        ({"verb": "version.registered", "actor": "alice"}, [1]),
    ],
)
def test_each_filter_keeps_exactly_the_matching_events(
    client, administrator, two_models, params, expected
):
    # When the log is filtered
    response = client.get(AUDIT_LOG, params)

    # Then exactly the matching events are listed, newest first
    events = two_models["events"]
    assert listed(response) == [events[i].pk for i in reversed(expected)]


def test_the_team_filter_keeps_that_teams_events(client, administrator, two_models):
    team = two_models["churn"].registered_model.team
    response = client.get(AUDIT_LOG, {"team": str(team.pk)})
    assert listed(response) == [two_models["events"][3].pk]


def test_the_date_range_keeps_the_events_of_those_days(client, administrator, two_models):
    # Given events 10, 5 and 4 days ago; when the range covers 6 to 4 days ago
    today = timezone.localdate()
    response = client.get(
        AUDIT_LOG,
        {
            "occurred_from": str(today - timedelta(days=6)),
            "occurred_until": str(today - timedelta(days=4)),
        },
    )

    # Then the two later events are listed, not the first two
    events = two_models["events"]
    assert listed(response) == [events[3].pk, events[2].pk]


@pytest.mark.parametrize(
    "params", [{"occurred_from": "last tuesday"}, {"verb": "version.deleted"}, {"team": "x"}]
)
def test_a_malformed_filter_value_is_refused_with_the_admins_error_page_not_a_crash(
    client, administrator, two_models, params
):
    response = client.get(AUDIT_LOG, params)
    assert response.status_code == 302
    assert "e=1" in response.url


def test_search_by_the_start_of_a_model_name_uses_a_prefix_match_on_the_name_index(
    client, administrator, two_models
):
    # When the log is searched for "fraud"
    with CaptureQueriesContext(connection) as queries:
        response = client.get(AUDIT_LOG, {"q": "fraud"})

    # Then the fraud-scorer's model and version events are listed, not churn's
    events = two_models["events"]
    assert listed(response) == [events[2].pk, events[1].pk, events[0].pk]
    # And no query matched with a leading wildcard (which no index can answer)
    name_queries = [q["sql"] for q in queries if "registry_registeredmodel" in q["sql"]]
    assert name_queries
    assert [sql for sql in name_queries if LEADING_WILDCARD.search(sql)] == []
    assert any("LIKE 'fraud%'" in sql for sql in name_queries), name_queries


def test_a_team_auditor_searching_another_teams_model_finds_nothing(client, two_models):
    # Given an auditor who may read only churn-predictor's team
    auditor = UserFactory()
    auditor.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    permissions.grant_team_role(
        auditor, permissions.VIEW, two_models["churn"].registered_model.team
    )
    client.force_login(auditor)

    # When they search for and filter by the other team's model
    searched = client.get(AUDIT_LOG, {"q": "fraud-scorer"})
    filtered = client.get(AUDIT_LOG, {"model": "fraud-scorer"})

    # Then neither lists anything; unfiltered they see only their team's event
    assert listed(searched) == []
    assert listed(filtered) == []
    assert listed(client.get(AUDIT_LOG)) == [two_models["events"][3].pk]


def test_the_log_runs_the_same_queries_at_20_and_at_2000_events(client, administrator):
    # Given 20 events about a version and its model
    version = ModelVersionFactory(registered_model=RegisteredModelFactory(name="fraud-scorer"))

    def add_events(count: int) -> None:
        AuditEvent.objects.bulk_create(
            event_about(
                version if n % 2 else version.registered_model,
                AuditVerb.VERSION_REGISTERED,
                actor=administrator,
            )
            for n in range(count)
        )

    add_events(20)
    params = {"q": "fraud", "verb": "version.registered"}

    # When the searched, filtered log is opened at 20 events and then at 2,000
    with CaptureQueriesContext(connection) as at_20:
        small = client.get(AUDIT_LOG, params)
    add_events(1980)
    with CaptureQueriesContext(connection) as at_2000:
        large = client.get(AUDIT_LOG, params)

    # Then it shows a page each time, in the same number of queries, and never counts
    assert len(listed(small)) == 20
    assert len(listed(large)) == 100
    assert large.context["cl"].next_page_url is not None
    assert len(at_20) == len(at_2000), [q["sql"] for q in at_2000]
    assert unbounded_counts(at_2000) == []


def test_the_next_page_shows_older_events(client, administrator):
    version = ModelVersionFactory()
    AuditEvent.objects.bulk_create(
        event_about(version, AuditVerb.VERSION_REGISTERED) for _ in range(150)
    )
    first = client.get(AUDIT_LOG)
    second = client.get(AUDIT_LOG, {"p": "2"})
    assert len(listed(first)) == 100
    assert len(listed(second)) == 50
    assert max(listed(second)) < min(listed(first))
    assert second.context["cl"].next_page_url is None


def test_each_event_names_its_team(client, administrator, two_models):
    response = client.get(AUDIT_LOG)
    slugs = [event.team_slug for event in response.context["cl"].result_list]
    fraud_team = two_models["fraud"].registered_model.team.slug
    churn_team = two_models["churn"].registered_model.team.slug
    assert slugs == [churn_team, fraud_team, fraud_team, fraud_team]
