"""The demo loader refuses outside demo mode, and in demo mode builds a realistic world."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

from approvals.demo.people import PEOPLE
from approvals.models import PromotionRequest
from registry.models import ModelVersion
from tests.approvals.factories import governance_row_counts

pytestmark = pytest.mark.django_db
User = get_user_model()
ROLES = {"platform", "product", "security"}


@pytest.mark.parametrize(("demo", "debug"), [(False, False), (False, True), (True, False)], ids=str)
def test_the_demo_loader_refuses_outside_demo_mode(demo, debug):
    # Given settings that are not demo mode (GOVBOARD_DEMO and DEBUG both required)
    before = (governance_row_counts(), User.objects.count())

    # When the loader runs
    with (
        override_settings(GOVBOARD_DEMO=demo, DEBUG=debug),
        pytest.raises(CommandError, match="only loaded in demo mode"),
    ):
        call_command("load_demo", stdout=io.StringIO())

    # Then it created nothing
    assert (governance_row_counts(), User.objects.count()) == before


@override_settings(GOVBOARD_DEMO=True, DEBUG=True)
def test_the_demo_loader_builds_people_versions_and_waiting_requests():
    # Given demo mode / When the loader runs
    out = io.StringIO()
    call_command("load_demo", stdout=out)

    # Then there is a person for every role, with a fresh password printed once
    assert set(User.objects.filter(username__in=PEOPLE).values_list("username", flat=True)) == set(
        PEOPLE
    )
    assert User.objects.get(username="admin").is_superuser
    for username in PEOPLE:
        assert f"  {username}" in out.getvalue()

    # And versions exist in every lifecycle state
    states = set(ModelVersion.objects.values_list("state", flat=True))
    assert states == {"draft", "candidate", "approved", "deprecated", "retired"}

    # And the requests in review each wait for a different single role
    missing_roles = []
    for request in PromotionRequest.objects.filter(state="in_review"):
        required = set(request.policy_snapshot["required_roles"])
        signed = set(request.signoffs.values_list("role", flat=True))
        missing_roles.append(tuple(sorted((required & ROLES) - signed)))
    assert sorted(missing_roles) == [("platform",), ("product",), ("security",)]
