"""Input an outside acceptance run slipped past the door (issue 7, GATE-1): each is a 400
that names the field, and nothing changes."""

from __future__ import annotations

import os

import pytest

from registry.models import DatasetVersion, VersionDataset
from registry.validators import SLUG_NAME
from tests.registry.factories import ModelVersionFactory, sha256_of
from tests.world import World, assert_problem, governance_snapshot, registration_payload

pytestmark = pytest.mark.django_db


def register(world: World, **overrides):
    return world.client("ci_a").post(
        "/api/v1/versions/", registration_payload(**overrides), format="json"
    )


@pytest.mark.parametrize(
    "uri",
    [
        "file:///etc/passwd",
        "file:///proc/self/environ",
        "file://localhost/etc/shadow",
        "file:///srv/artifacts-evil/model",  # a sibling that shares the root's prefix
        "file:///srv/artifacts",  # the root itself is not an artifact
    ],
)
def test_a_file_uri_outside_the_artifact_roots_is_refused_at_registration(world, settings, uri):
    # Given artifact roots configured as /srv/artifacts only
    settings.GOVBOARD_ARTIFACT_ROOTS = ["/srv/artifacts"]
    before = governance_snapshot()

    # When CI registers a version stored at a path outside them
    response = register(world, storage_uri=uri)

    # Then it is a 400 on storage_uri and nothing was stored
    problem = assert_problem(response, 400)
    assert list(problem["errors"]) == ["storage_uri"]
    assert "artifact roots" in problem["errors"]["storage_uri"][0]
    assert governance_snapshot() == before


def test_a_file_uri_is_refused_when_no_artifact_roots_are_configured(world, settings):
    settings.GOVBOARD_ARTIFACT_ROOTS = []
    before = governance_snapshot()

    response = register(world, storage_uri="file:///srv/artifacts/model/")

    assert list(assert_problem(response, 400)["errors"]) == ["storage_uri"]
    assert governance_snapshot() == before


def test_a_file_uri_inside_an_artifact_root_is_accepted(world, settings, tmp_path):
    settings.GOVBOARD_ARTIFACT_ROOTS = [str(tmp_path)]

    response = register(world, storage_uri=f"file://{tmp_path}/model/")

    assert response.status_code == 201, response.json()


def test_a_symlink_inside_a_root_pointing_outside_is_refused_at_registration(
    world, settings, tmp_path
):
    # Given a root holding a link to /etc
    root = tmp_path / "artifacts"
    root.mkdir()
    os.symlink("/etc", root / "escape")
    settings.GOVBOARD_ARTIFACT_ROOTS = [str(root)]
    before = governance_snapshot()

    # When CI registers a path through that link
    response = register(world, storage_uri=f"file://{root}/escape/passwd")

    # Then the resolved target is outside the root: refused, nothing stored
    assert list(assert_problem(response, 400)["errors"]) == ["storage_uri"]
    assert governance_snapshot() == before


@pytest.mark.parametrize(
    "uri",
    [
        "https://ex\u0430mple.com/m",  # Cyrillic a among Latin letters
        "https://xn--exmple-4nf.com/m",  # the same host in its punycode form
        "s3://m\u043edels/x/",  # Cyrillic o in a bucket name
        "https://b\u00fccher.example/x",  # non-ASCII: send the xn-- form
    ],
)
def test_a_storage_host_that_mixes_scripts_or_is_not_ascii_is_refused(world, uri):
    before = governance_snapshot()

    response = register(world, storage_uri=uri)

    assert list(assert_problem(response, 400)["errors"]) == ["storage_uri"]
    assert governance_snapshot() == before


def test_a_single_script_internationalised_host_in_punycode_is_accepted(world):
    response = register(world, storage_uri="https://xn--bcher-kva.example/models/x")

    assert response.status_code == 201, response.json()


@pytest.mark.parametrize("padding", [" ", "\n", "\t", "\r\n"])
@pytest.mark.parametrize("where", ["before", "after"])
def test_a_checksum_with_surrounding_whitespace_is_refused_not_trimmed(world, padding, where):
    checksum = sha256_of("weights 2.0.0")
    padded = padding + checksum if where == "before" else checksum + padding
    before = governance_snapshot()

    response = register(world, checksum=padded)

    assert list(assert_problem(response, 400)["errors"]) == ["checksum"]
    assert governance_snapshot() == before


@pytest.mark.parametrize(
    "field, value",
    [
        ("license", 5),
        ("license", True),
        ("allowed_use_cases", [1, 2]),
        ("prohibited_use_cases", ["fine", 3]),
        ("mitigation_controls", [{"a": 1}]),
        ("base_model_reference", 1),
        ("model", 7),
        ("version", 2.0),
        ("source_commit", ["a" * 40]),
        ("storage_uri", {"s3": "x"}),
    ],
)
def test_a_wrong_json_type_is_refused_instead_of_coerced_to_text(world, field, value):
    before = governance_snapshot()

    response = register(world, **{field: value})

    problem = assert_problem(response, 400)
    assert list(problem["errors"]) == [field]
    assert governance_snapshot() == before


@pytest.fixture
def dataset_client(world):
    version = ModelVersionFactory(registered_model=world.model_a)
    return version, world.client("ci_a")


DATASET = {
    "dataset": "support-tickets",
    "version": "2026-10",
    "use": "train",
    "window_start": "2026-06-01T00:00:00Z",
    "window_end": "2026-09-30T00:00:00Z",
}


@pytest.mark.parametrize(
    "field, value",
    [
        ("version", "../1"),
        ("version", ".."),
        ("version", "1/2"),
        ("version", "v1\n"),
        ("version", " v1"),
        ("version", "v\u0441"),  # Cyrillic es
        ("version", 1),
        ("dataset", "support-tickets\n"),
        ("license", 5),
        ("uri", "file:///etc/passwd"),
    ],
)
def test_a_bad_dataset_link_is_refused_and_records_nothing(dataset_client, field, value):
    version, client = dataset_client
    before = governance_snapshot(), DatasetVersion.objects.count(), VersionDataset.objects.count()

    response = client.post(
        f"/api/v1/versions/{version.pk}/datasets/", {**DATASET, field: value}, format="json"
    )

    problem = assert_problem(response, 400)
    assert list(problem["errors"]) == [field]
    assert (
        governance_snapshot(),
        DatasetVersion.objects.count(),
        VersionDataset.objects.count(),
    ) == before


def test_a_dataset_link_records_its_licence(dataset_client):
    version, client = dataset_client

    response = client.post(
        f"/api/v1/versions/{version.pk}/datasets/",
        {**DATASET, "license": "CC-BY-4.0"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["license"] == "CC-BY-4.0"
    assert DatasetVersion.objects.get(
        dataset__name="support-tickets", version="2026-10"
    ).license == ("CC-BY-4.0")


def test_every_full_match_pattern_refuses_a_trailing_newline():
    # Python's "$" matches before a final newline; the validators anchor with \\Z.
    assert SLUG_NAME.match("support-lora")
    assert not SLUG_NAME.match("support-lora\n")
