"""The model owner's "My models" page: only their models (owner or backup owner), state
and approval expiry, filters and sorting, and a query count independent of size."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from registry.admin.owner import MODEL_LIMIT
from registry.choices import VersionState
from registry.models import RegisteredModel
from tests.registry.admin.owner_scenario import bulk_versions, owned_model, owner_of
from tests.registry.factories import ModelVersionFactory, RegisteredModelFactory, TeamFactory

pytestmark = pytest.mark.django_db


def unbounded_counts(queries) -> list[str]:
    """COUNT queries not limited to a bounded subquery (a count over a growing table)."""
    return [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and " LIMIT " not in q["sql"]]


MY_MODELS = reverse("admin:my_models")


def shown_versions(response) -> list[str]:
    return [f"{row['model'].name} {row['version'].version}" for row in response.context["rows"]]


def test_the_owner_sees_the_versions_of_the_models_they_own_or_back_up_and_no_others(client):
    # Given an owner of one model and backup owner of another, on a team with other models
    team = TeamFactory()
    owner = owner_of(team, username="oliver")
    owned = owned_model(team, owner, name="fraud-scorer")
    backed_up = RegisteredModelFactory(team=team, backup_owner=owner, name="churn-predictor")
    someone_elses = RegisteredModelFactory(team=team, name="pricing")
    for model in (owned, backed_up, someone_elses):
        ModelVersionFactory(registered_model=model, version="1.0.0")
    client.force_login(owner)

    # When they open "My models"
    response = client.get(MY_MODELS)

    # Then they see the two models' versions, with their part in each, and not the third
    assert response.status_code == 200
    assert sorted(shown_versions(response)) == ["churn-predictor 1.0.0", "fraud-scorer 1.0.0"]
    roles = {row["model"].name: row["role"] for row in response.context["rows"]}
    assert roles == {"fraud-scorer": "owner", "churn-predictor": "backup owner"}
    assert "pricing" not in response.content.decode()


def test_an_owner_who_may_no_longer_read_the_team_sees_none_of_its_models(client):
    # Given an owner whose model is on a team they hold no role on
    team, other_team = TeamFactory(), TeamFactory()
    owner = owner_of(other_team)
    ModelVersionFactory(registered_model=owned_model(team, owner))
    client.force_login(owner)

    # When they open "My models"
    response = client.get(MY_MODELS)

    # Then the list is empty: ownership does not widen what the rule table lets them read
    assert response.context["rows"] == []
    assert "No versions match." in response.content.decode()


def test_the_expiry_filter_and_sort_show_the_soonest_expiring_first_with_days_left(client):
    # Given approved versions expiring in 3, 20 and 90 days, an expired one and a draft
    now = timezone.now()
    team = TeamFactory()
    owner = owner_of(team)
    model = owned_model(team, owner, name="fraud-scorer")
    bulk_versions(model, 1, expires_at=now + timedelta(days=20, hours=1), start=20)
    bulk_versions(model, 1, expires_at=now + timedelta(days=3, hours=1), start=3)
    bulk_versions(model, 1, expires_at=now + timedelta(days=90), start=90)
    bulk_versions(model, 1, expires_at=now - timedelta(days=2), start=1)
    bulk_versions(model, 1, state=VersionState.DRAFT, start=0)
    client.force_login(owner)

    # When they ask for approvals expiring within 30 days, soonest first
    response = client.get(MY_MODELS, {"expiry": "30", "sort": "expiry"})

    # Then exactly the two within 30 days show, 3 days before 20, with the days left
    assert shown_versions(response) == ["fraud-scorer 2.3.0", "fraud-scorer 2.20.0"]
    assert [row["expiry"] for row in response.context["rows"]] == [
        "expires in 3 days",
        "expires in 20 days",
    ]

    # And the expired filter shows only the expired one, said as such
    expired = client.get(MY_MODELS, {"expiry": "expired"})
    assert shown_versions(expired) == ["fraud-scorer 2.1.0"]
    assert expired.context["rows"][0]["expiry"] == "expired 2 days ago"

    # And the latest-first sort puts versions without an expiry last
    latest_first = client.get(MY_MODELS, {"sort": "-expiry"})
    assert shown_versions(latest_first) == [
        "fraud-scorer 2.90.0",
        "fraud-scorer 2.20.0",
        "fraud-scorer 2.3.0",
        "fraud-scorer 2.1.0",
        "fraud-scorer 2.0.0",
    ]


def test_a_deprecated_versions_old_expiry_is_not_an_approval_expiring_soon(client):
    # Given an approved and a deprecated version, both with an expiry in 5 days
    soon = timezone.now() + timedelta(days=5, hours=1)
    team = TeamFactory()
    owner = owner_of(team)
    model = owned_model(team, owner, name="alpha")
    bulk_versions(model, 1, expires_at=soon, start=1)
    bulk_versions(model, 1, state=VersionState.DEPRECATED, expires_at=soon, start=2)
    client.force_login(owner)

    # When they ask for approvals expiring within 7 days, and for those with none in force
    expiring = client.get(MY_MODELS, {"expiry": "7"})
    none_in_force = client.get(MY_MODELS, {"expiry": "none"})

    # Then only the approved one is expiring; the deprecated one has no approval in force
    assert shown_versions(expiring) == ["alpha 2.1.0"]
    assert shown_versions(none_in_force) == ["alpha 2.2.0"]
    assert none_in_force.context["rows"][0]["expiry"] == "no approval in force"


def test_the_state_and_model_filters_narrow_the_list(client):
    # Given two owned models, each with an approved and a draft version
    team = TeamFactory()
    owner = owner_of(team)
    first, second = owned_model(team, owner, name="alpha"), owned_model(team, owner, name="beta")
    for model in (first, second):
        bulk_versions(model, 1, expires_at=timezone.now() + timedelta(days=40), start=1)
        bulk_versions(model, 1, state=VersionState.DRAFT, start=2)
    client.force_login(owner)

    # When they filter by one model and the draft state
    response = client.get(MY_MODELS, {"model": str(second.pk), "state": VersionState.DRAFT})

    # Then only that model's draft shows
    assert shown_versions(response) == ["beta 2.2.0"]


def test_a_filter_value_that_is_not_offered_is_ignored_not_an_error(client):
    # Given an owner with one version, and another team's model id
    team = TeamFactory()
    owner = owner_of(team)
    ModelVersionFactory(registered_model=owned_model(team, owner, name="alpha"), version="1.0.0")
    hidden = RegisteredModelFactory(team=TeamFactory())
    client.force_login(owner)

    # When they ask for a model they do not own and a made-up expiry window
    response = client.get(MY_MODELS, {"model": str(hidden.pk), "expiry": "soon"})

    # Then the form refuses the values and the page shows their own versions, unfiltered
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"model", "expiry"}
    assert shown_versions(response) == ["alpha 1.0.0"]


def test_my_models_runs_the_same_queries_at_20_and_at_2000_versions(client):
    # Given an owner with 20 approved versions across two models
    team = TeamFactory()
    owner = owner_of(team)
    expires = timezone.now() + timedelta(days=10)
    models = [owned_model(team, owner, name=name) for name in ("alpha", "beta")]
    for model in models:
        bulk_versions(model, 10, expires_at=expires)
    client.force_login(owner)
    params = {"expiry": "30", "sort": "model"}

    # When the page is opened, filtered and sorted, at 20 versions and then at 2,000
    with CaptureQueriesContext(connection) as at_20:
        small = client.get(MY_MODELS, params)
    for model in models:
        bulk_versions(model, 990, expires_at=expires, start=10)
    with CaptureQueriesContext(connection) as at_2000:
        large = client.get(MY_MODELS, params)

    # Then both show one page (all 20; the first 50 of 2,000 and a next page)
    assert (len(small.context["rows"]), small.context["has_next"]) == (20, False)
    assert (len(large.context["rows"]), large.context["has_next"]) == (50, True)
    # And they ran the same queries, none of them a COUNT without a bound (the
    # navigation's badge counts at most 100 rows)
    assert len(at_20) == len(at_2000), [q["sql"] for q in at_2000]
    assert unbounded_counts(at_2000) == []


def test_each_of_the_owners_models_is_named_once_and_narrows_the_list_to_its_versions(client):
    # Given an owner of two models and the backup owner of a third
    team = TeamFactory(slug="assistants")
    owner = owner_of(team)
    alpha, beta = owned_model(team, owner, name="alpha"), owned_model(team, owner, name="beta")
    gamma = RegisteredModelFactory(team=team, backup_owner=owner, name="gamma")
    for model in (alpha, beta, gamma):
        bulk_versions(model, 2, expires_at=timezone.now() + timedelta(days=40))
    client.force_login(owner)

    # When they open "My models", then follow one model's link, keeping a filter
    response = client.get(MY_MODELS, {"state": VersionState.APPROVED})
    html = response.content.decode()
    narrowed = client.get(MY_MODELS, {"state": VersionState.APPROVED, "model": str(beta.pk)})

    # Then each model is named once, by name, as a link that keeps the other filters
    assert [model.name for model in response.context["models"]] == ["alpha", "beta", "gamma"]
    assert html.count("assistants/beta") == 1
    assert f'href="?state=approved&amp;model={beta.pk}"' in html
    assert not response.context["more_models"]
    # And the link shows that model's versions only, saying so
    assert shown_versions(narrowed) == ["beta 2.0.0", "beta 2.1.0"]
    assert "Versions of assistants/beta" in narrowed.content.decode()


def test_an_owner_of_many_models_sees_the_first_ones_and_a_link_to_all_of_them(client):
    # Given an owner of more models than the page names
    team = TeamFactory(slug="assistants")
    owner = owner_of(team)
    for index in range(MODEL_LIMIT + 5):
        owned_model(team, owner, name=f"model-{index:02d}")
    client.force_login(owner)

    # When they open "My models", and follow "all your models"
    response = client.get(MY_MODELS)
    everything = client.get(response.context["all_models_url"])

    # Then the page names the first MODEL_LIMIT by name and links to the models' list,
    # which holds all of theirs
    assert [model.name for model in response.context["models"]] == [
        f"model-{index:02d}" for index in range(MODEL_LIMIT)
    ]
    assert response.context["more_models"]
    assert 'id="my-models-all"' in response.content.decode()
    assert everything.status_code == 200
    assert {model.name for model in everything.context["cl"].result_list} == {
        f"model-{index:02d}" for index in range(MODEL_LIMIT + 5)
    }


def test_my_models_runs_the_same_queries_at_3_and_at_60_models(client):
    # Given an owner with 3 models of 2 versions each
    team = TeamFactory()
    owner = owner_of(team)
    expires = timezone.now() + timedelta(days=10)

    def more_models(count: int, start: int) -> None:
        for index in range(start, start + count):
            bulk_versions(
                owned_model(team, owner, name=f"model-{index:02d}"), 2, expires_at=expires
            )

    more_models(3, 0)
    client.force_login(owner)
    chosen = RegisteredModel.objects.get(name="model-01")
    params = {"expiry": "30", "model": str(chosen.pk)}

    # When the page is opened, plain and narrowed to one model, at 3 models and at 60
    with CaptureQueriesContext(connection) as plain_3:
        client.get(MY_MODELS)
    with CaptureQueriesContext(connection) as narrowed_3:
        client.get(MY_MODELS, params)
    more_models(57, 3)
    with CaptureQueriesContext(connection) as plain_60:
        large = client.get(MY_MODELS)
    with CaptureQueriesContext(connection) as narrowed_60:
        narrowed = client.get(MY_MODELS, params)

    # Then each runs the same queries at both sizes, none an unbounded COUNT, and the
    # page names at most MODEL_LIMIT models
    assert len(plain_3) == len(plain_60), [q["sql"] for q in plain_60]
    assert len(narrowed_3) == len(narrowed_60), [q["sql"] for q in narrowed_60]
    assert unbounded_counts(plain_60) == unbounded_counts(narrowed_60) == []
    assert len(large.context["models"]) == MODEL_LIMIT and large.context["more_models"]
    assert shown_versions(narrowed) == ["model-01 2.0.0", "model-01 2.1.0"]
