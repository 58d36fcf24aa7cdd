"""Evals are stale (a critical failure) when a version serves with another prompt/template
than the one it was evaluated with; and no exception row can exist for a critical check."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals import services
from approvals.models import CheckException, CheckResult
from tests.approvals.factories import (
    attach,
    attach_passing_evidence,
    board_policy,
    ci_user,
    eval_package,
    run_checks,
)
from tests.registry.factories import TeamFactory, UserFactory, ready_version, sha256_of

pytestmark = pytest.mark.django_db
PROMPT_V2 = sha256_of("You are a careful support assistant. v2")
PROMPT_V3 = sha256_of("You are a careful support assistant. v3")


def _submit(version):
    board_policy(version.registered_model.team)
    request = services.promotion_request_submit(
        actor=ci_user(version.registered_model.team), version=version
    )
    return run_checks(request)


def test_an_adapter_evaluated_with_its_current_prompt_passes_the_freshness_check():
    # Given an adapter that serves with prompt v2, evaluated with prompt v2
    version = ready_version(prompt_checksum=PROMPT_V2, registered_model__team=TeamFactory())
    attach_passing_evidence(version, skip=("eval_package",))
    attach(version, "eval_package", eval_package(version, prompt_checksum=PROMPT_V2))

    # When its promotion is checked
    request = _submit(version)

    # Then the freshness check passes and the request is in review
    fresh = CheckResult.objects.get(request=request, check_name="evals_fresh")
    assert fresh.passed, fresh.detail
    assert request.state == "in_review"


def test_an_adapter_evaluated_with_an_older_prompt_is_stale_and_sent_back():
    # Given an adapter that now serves with prompt v3 but was evaluated with prompt v2
    version = ready_version(prompt_checksum=PROMPT_V3, registered_model__team=TeamFactory())
    attach_passing_evidence(version, skip=("eval_package",))
    attach(version, "eval_package", eval_package(version, prompt_checksum=PROMPT_V2))

    # When its promotion is checked
    request = _submit(version)

    # Then the stale evals are a critical failure: back to CI, version stays draft
    fresh = CheckResult.objects.get(request=request, check_name="evals_fresh")
    assert (fresh.passed, fresh.critical) == (False, True)
    assert PROMPT_V3 in fresh.detail
    assert request.state == "changes_requested"
    version.refresh_from_db()
    assert version.state == "draft"


def test_the_database_refuses_an_exception_row_for_a_critical_check():
    # Given a request whose critical evals check failed
    version = ready_version(prompt_checksum=PROMPT_V3, registered_model__team=TeamFactory())
    attach_passing_evidence(version, skip=("eval_package",))
    attach(version, "eval_package", eval_package(version, prompt_checksum=PROMPT_V2))
    request = _submit(version)
    failed = CheckResult.objects.get(request=request, check_name="evals_fresh")

    # When anyone writes an exception row for it directly, bypassing the service
    with pytest.raises(IntegrityError), transaction.atomic():
        CheckException.objects.create(
            request=request,
            check_result=failed,
            check_name=failed.check_name,
            check_was_critical=failed.critical,
            justification="a shell user trying to bypass the gate",
            granted_by=UserFactory(is_superuser=True),
            granted_at=timezone.now(),
            expires_at=timezone.now() + timezone.timedelta(days=1),
        )

    # Then no exception exists
    assert CheckException.objects.count() == 0
