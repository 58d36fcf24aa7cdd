"""``govboard release create`` and ``govboard release show`` against a live server."""

from __future__ import annotations

import json

import pytest

import govboard_cli as cli
from audit.models import AuditEvent
from audit.verbs import AuditVerb
from registry.choices import VersionState
from registry.models import Release, ReleaseComponent
from tests.registry.factories import service_account_with_token
from tests.releases.stack import build_stack, notes, version_of


@pytest.fixture
def stack(ci, monkeypatch):
    """A releasable stack on its own team, with a CI token of that team in GOVBOARD_TOKEN."""
    built = build_stack()
    _, token = service_account_with_token(teams=[built.team])
    monkeypatch.setenv("GOVBOARD_TOKEN", token)
    return built


def release_file(tmp_path, stack, **replace) -> str:
    path = tmp_path / "release.json"
    body = {
        "team": stack.team.slug,
        "name": "checkout-scoring",
        "version": "1.0.0",
        "components": stack.components(**replace),
        "notes": notes(stack.owner.username),
    }
    path.write_text(json.dumps(body))
    return str(path)


def written() -> tuple[int, int, int]:
    return (
        Release.objects.count(),
        ReleaseComponent.objects.count(),
        AuditEvent.objects.filter(verb=AuditVerb.RELEASE_SUBMITTED).count(),
    )


def test_release_create_submits_the_file_and_prints_id_version_and_categories(
    ci, run, stack, tmp_path
):
    path = release_file(tmp_path, stack)
    code, body, err = run("release", "create", "--file", path, "--url", ci.url)

    assert code == cli.EXIT_OK, err
    release = Release.objects.get(pk=body["id"])
    assert (release.name, release.version) == ("checkout-scoring", "1.0.0")
    assert body["categories"] == [item["category"] for item in release.change_categories]
    assert "threshold" in body["categories"]
    assert f"id {release.pk}" in err and "1.0.0" in err and "threshold" in err
    assert written() == (1, 5, 1)


def test_release_create_twice_with_the_same_file_replays_and_creates_one_release(
    ci, run, stack, tmp_path
):
    path = release_file(tmp_path, stack)
    first = run("release", "create", "--file", path, "--url", ci.url)
    again = run("release", "create", "--file", path, "--url", ci.url)

    assert (first[0], again[0]) == (cli.EXIT_OK, cli.EXIT_OK)
    assert first[1]["id"] == again[1]["id"]
    assert written() == (1, 5, 1)


def test_a_release_file_that_is_not_json_is_a_usage_error_and_creates_nothing(
    ci, run, stack, tmp_path
):
    path = tmp_path / "release.json"
    path.write_text("team: not json")
    code, _, err = run("release", "create", "--file", str(path), "--url", ci.url)

    assert code == cli.EXIT_USAGE
    assert "Cannot read release file" in err
    assert written() == (0, 0, 0)


def test_a_release_pinning_an_unapproved_component_is_refused_with_the_detail(
    ci, run, stack, tmp_path
):
    draft = version_of(stack.model, "3.1.0", state=VersionState.DRAFT)
    path = release_file(tmp_path, stack, model=draft)
    code, _, err = run("release", "create", "--file", path, "--url", ci.url)

    assert code == cli.EXIT_CONFLICT
    assert "fraud-scorer 3.1.0 is draft" in err
    assert "a release pins only approved components" in err
    assert written() == (0, 0, 0)


def test_release_show_prints_notes_components_categories_and_rings(ci, run, stack, tmp_path):
    _, created, _ = run(
        "release", "create", "--file", release_file(tmp_path, stack), "--url", ci.url
    )
    code, body, err = run("release", "show", str(created["id"]), "--url", ci.url)

    assert code == cli.EXIT_OK, err
    assert body["id"] == created["id"]
    assert body["notes"]["what_changed"] == "Raised the decline threshold."
    assert "what changed: Raised the decline threshold." in err
    assert "component model: fraud-scorer 3.0.0" in err
    assert "component config: decline-threshold 1.0.0" in err
    assert "threshold" in err
    assert "rings: none entered" in err


def test_release_show_of_an_unknown_release_exits_not_found(ci, run, stack):
    code, _, err = run("release", "show", "999999", "--url", ci.url)
    assert code == cli.EXIT_NOT_FOUND
    assert "404" in err
