"""A promotion request carries its own team (issue 14): every opening path copies the
version's model's team (a ring request's release has the same one), and the model refuses
a new request naming another, so no per-team figure can count a request on the wrong team
without an error."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals import services
from approvals.models import PromotionRequest
from tests.approvals.factories import (
    PromotionRequestFactory,
    attach,
    passing_evidence_documents,
    request_in_review,
    run_checks,
)
from tests.registry.factories import PASSWORD, ModelVersionFactory, TeamFactory, approver
from tests.releases.factories import ReleaseFactory
from tests.releases.rings_helpers import request_ring, stack_release

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
OPENING_MODULE = "approvals/services/requests.py"


def _stored_team_id(request: PromotionRequest) -> int:
    return PromotionRequest.objects.values_list("team_id", flat=True).get(pk=request.pk)


def test_a_submitted_request_carries_its_version_s_model_s_team():
    request = request_in_review(registered_model__team=TeamFactory())
    assert _stored_team_id(request) == request.version.registered_model.team_id


def test_a_re_certification_request_carries_the_approved_version_s_team():
    reviewed = request_in_review(registered_model__team=TeamFactory())
    team = reviewed.version.registered_model.team
    for role in ("platform", "product", "security"):
        services.signoff_record(
            actor=approver(team, role), request=reviewed, role=role, password=PASSWORD
        )
    version = reviewed.version
    version.refresh_from_db()
    documents = passing_evidence_documents(version)
    for kind in ("eval_package", "dependency_scan", "artifact_scan"):
        attach(version, kind, documents[kind])

    request = run_checks(
        services.recertification_request_submit(
            actor=version.registered_model.owner, version=version
        )
    )

    assert request.pk != reviewed.pk
    assert _stored_team_id(request) == team.pk


def test_a_ring_request_carries_its_release_s_team_which_is_its_anchor_s():
    release = stack_release()
    request = request_ring(release, "offline_validation")
    assert _stored_team_id(request) == release.team_id
    assert request.version.registered_model.team_id == release.team_id


def test_a_new_request_naming_another_team_than_its_version_s_is_refused():
    version = ModelVersionFactory()
    with pytest.raises(ValueError, match="must be its version's model's team"):
        PromotionRequestFactory(version=version, team=TeamFactory())
    assert not PromotionRequest.objects.filter(version=version).exists()


def test_a_new_request_without_a_team_is_refused():
    version = ModelVersionFactory()
    with pytest.raises(ValueError, match="must be its version's model's team"):
        PromotionRequestFactory(version=version, team=None)


def test_a_ring_request_for_a_release_of_another_team_is_refused():
    version = ModelVersionFactory()
    release = ReleaseFactory(team=TeamFactory(), components=[ModelVersionFactory()])
    with pytest.raises(ValueError, match="and its release's"):
        PromotionRequestFactory(version=version, release=release)


def test_the_team_loaded_through_the_version_answers_request_team_without_a_query():
    made = PromotionRequestFactory()
    request = PromotionRequest.objects.select_related("version__registered_model__team").get(
        pk=made.pk
    )
    with CaptureQueriesContext(connection) as captured:
        team = request.team
    assert (team.pk, len(captured)) == (made.version.registered_model.team_id, 0)


def _calls_that_build_requests(path: Path) -> list[int]:
    """Lines of ``PromotionRequest(...)``, ``PromotionRequest.objects.create`` and
    ``.bulk_create`` in a module."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        if name == "PromotionRequest" or name in {
            "PromotionRequest.objects.create",
            "PromotionRequest.objects.bulk_create",
        }:
            lines.append(node.lineno)
    return lines


def test_requests_are_built_only_by_the_one_opening_path_that_copies_the_team():
    # Every service opens through requests.open_request (submission, re-certification,
    # rings), tested above; a new path elsewhere must copy the team and be tested too.
    building = {
        str(path.relative_to(ROOT)): lines
        for app in ("approvals", "registry", "core", "audit", "reports", "govboard")
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts and (lines := _calls_that_build_requests(path))
    }
    assert list(building) == [OPENING_MODULE], building
    assert len(building[OPENING_MODULE]) == 1, building
