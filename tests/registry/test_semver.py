"""Semantic versions: strict parsing, canonical form and precedence (semver.org 2.0.0),
and version lists ordered by precedence in the API and the admin."""

from __future__ import annotations

import itertools
import random

import pytest
from django.test import Client

from registry import semver
from tests.registry.factories import (
    ModelVersionFactory,
    RegisteredModelFactory,
    TeamFactory,
    UserFactory,
    service_account_with_token,
)

SEMVER_ORG_PRECEDENCE = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
]


@pytest.mark.parametrize(
    ("text", "major", "minor", "patch", "prerelease", "build"),
    [
        ("0.0.0", 0, 0, 0, (), ()),
        ("1.2.3", 1, 2, 3, (), ()),
        ("1.0.0-alpha.1", 1, 0, 0, ("alpha", "1"), ()),
        ("1.0.0-0A.is.legal", 1, 0, 0, ("0A", "is", "legal"), ()),
        ("1.0.0+20130313144700", 1, 0, 0, (), ("20130313144700",)),
        ("1.0.0-beta+exp.sha.5114f85", 1, 0, 0, ("beta",), ("exp", "sha", "5114f85")),
        ("1.0.0+21AF26D3----117B344092BD", 1, 0, 0, (), ("21AF26D3----117B344092BD",)),
        ("999999999999.0.0", 999999999999, 0, 0, (), ()),
    ],
)
def test_a_valid_version_parses_into_its_parts(text, major, minor, patch, prerelease, build):
    # Given a semver.org-valid version / When it is parsed
    parsed = semver.parse(text)

    # Then its parts are exact and its text round-trips
    assert (parsed.major, parsed.minor, parsed.patch) == (major, minor, patch)
    assert parsed.prerelease == prerelease
    assert parsed.build == build
    assert str(parsed) == text
    assert semver.parse(str(parsed)) == parsed


@pytest.mark.parametrize(
    ("text", "core"),
    [("1.0.0", "1.0.0"), ("1.0.0+a", "1.0.0"), ("1.0.0-rc.1+b.2", "1.0.0-rc.1")],
)
def test_the_core_drops_only_build_metadata(text, core):
    # Given a version with or without build metadata / When its core is taken
    # Then it is the version without build metadata
    assert semver.parse(text).core == core


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("01.0.0", "is not a semantic version"),
        ("1.00.0", "is not a semantic version"),
        ("1.0.0-01", "is not a semantic version"),
        ("1.0", "is not a semantic version"),
        ("v1.0.0", "is not a semantic version"),
        ("1.0.0-", "is not a semantic version"),
        ("1.0.0+", "is not a semantic version"),
        ("1.0.0-alpha..1", "is not a semantic version"),
        ("1.0.0-al_pha", "is not a semantic version"),
        ("\uff11.0.0", "is not a semantic version"),  # fullwidth digit one
        ("1.0.0\n", "is not a semantic version"),
        ("", "is not a semantic version"),
        ("1000000000000.0.0", "larger than 999999999999"),
        ("1.0.0-1000000000000", "pre-release number larger than"),
        ("1.0.0-" + "a" * 200, "at most 128 characters"),
        (None, "at most 128 characters"),
        (100, "at most 128 characters"),
    ],
)
def test_an_invalid_version_is_refused_with_a_clear_message(text, message):
    # Given a string that is not a bounded semver 2.0.0 version / When it is parsed
    # Then it is refused, saying why
    with pytest.raises(semver.InvalidVersion, match=message):
        semver.parse(text)


def test_sort_key_orders_the_semver_org_example_by_precedence():
    # Given the semver.org precedence example, shuffled
    shuffled = SEMVER_ORG_PRECEDENCE[:]
    random.Random(7).shuffle(shuffled)

    # When sorted by the sort key (a plain string, as the database sorts it)
    ordered = sorted(shuffled, key=lambda text: semver.parse(text).sort_key())

    # Then the order is semver precedence, each strictly before the next
    assert ordered == SEMVER_ORG_PRECEDENCE
    keys = [semver.parse(text).sort_key() for text in SEMVER_ORG_PRECEDENCE]
    assert all(earlier < later for earlier, later in itertools.pairwise(keys))


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.0.0", "2.0.0"),
        ("2.0.0", "2.1.0"),
        ("2.1.0", "2.1.1"),
        ("1.9.0", "1.10.0"),
        ("1.0.0-rc.9", "1.0.0-rc.10"),
        ("1.0.0-2", "1.0.0-10"),
        ("1.0.0-999", "1.0.0-a"),
        ("1.0.0-beta", "1.0.0-beta-x"),
        ("1.0.0-Z", "1.0.0-a"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.0.0", "1.0.1-alpha"),
        ("999999999998.0.0", "999999999999.0.0"),
    ],
)
def test_sort_key_follows_precedence_for_each_rule(lower, higher):
    # Given two versions where semver says `lower` < `higher`
    # When their sort keys are compared / Then the order agrees
    assert semver.parse(lower).sort_key() < semver.parse(higher).sort_key()


def test_build_metadata_does_not_change_precedence():
    # Given two builds of one version / Then their sort keys are equal
    assert semver.parse("1.0.0+a").sort_key() == semver.parse("1.0.0+b").sort_key()


@pytest.mark.django_db
def test_the_api_lists_a_models_versions_by_precedence(api_client):
    # Given a model's versions registered out of order
    model = RegisteredModelFactory(team=TeamFactory(slug="assistants"), name="support-lora")
    shuffled = SEMVER_ORG_PRECEDENCE[:]
    random.Random(3).shuffle(shuffled)
    for text in shuffled:
        ModelVersionFactory(registered_model=model, version=text)
    _, token = service_account_with_token(teams=[model.team])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    # When CI lists the model's versions
    response = api_client.get("/api/v1/versions/", {"model": "support-lora"})

    # Then they come highest precedence first
    assert response.status_code == 200
    listed = [row["version"] for row in response.json()["results"]]
    assert listed == SEMVER_ORG_PRECEDENCE[::-1]


@pytest.mark.django_db
def test_the_admin_lists_a_models_versions_by_precedence():
    # Given a model's versions registered out of order
    model = RegisteredModelFactory(team=TeamFactory(slug="assistants"), name="support-lora")
    shuffled = SEMVER_ORG_PRECEDENCE[:]
    random.Random(5).shuffle(shuffled)
    for text in shuffled:
        ModelVersionFactory(registered_model=model, version=text)
    browser = Client()
    browser.force_login(UserFactory(is_superuser=True))

    # When an administrator opens the versions list of that model
    response = browser.get(
        "/admin/registry/modelversion/", {"registered_model__id__exact": model.pk}
    )

    # Then they come highest precedence first (the whole list is newest first)
    assert response.status_code == 200
    listed = [version.version for version in response.context["cl"].result_list]
    assert listed == SEMVER_ORG_PRECEDENCE[::-1]
