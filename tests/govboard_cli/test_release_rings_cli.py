"""``govboard release promote`` and ``govboard release rings`` against a live server."""

from __future__ import annotations

import govboard_cli as cli
from approvals.models import PromotionRequest
from tests.releases.rings_helpers import stack_release


def test_release_promote_opens_a_ring_request_and_release_rings_shows_it(ci, run, seeded_policies):
    release = stack_release(team=ci.team)

    code, body, err = run(
        "release", "promote", str(release.pk), "--url", ci.url,
        "--environment", "prod", "--ring", "offline_validation", "--no-wait",
    )  # fmt: skip

    assert code == cli.EXIT_OK, err
    request = PromotionRequest.objects.get(pk=body["id"])
    assert (request.release_id, request.target_ring) == (release.pk, "offline_validation")

    code, state, err = run("release", "rings", str(release.pk), "--url", ci.url)
    assert code == cli.EXIT_OK, err
    assert state["environments"][0]["open_request"]["id"] == request.pk


def test_a_ring_skip_from_the_cli_is_an_error_exit_and_writes_nothing(ci, run, seeded_policies):
    release = stack_release(team=ci.team)
    code, _, err = run(
        "release", "promote", str(release.pk), "--url", ci.url,
        "--environment", "prod", "--ring", "general", "--no-wait",
    )  # fmt: skip
    assert code != cli.EXIT_OK
    assert "rings are entered in order" in err
    assert PromotionRequest.objects.filter(release=release).count() == 0
