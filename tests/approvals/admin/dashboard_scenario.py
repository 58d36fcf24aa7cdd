"""A dashboard scenario with known data: two teams of requests in every state the tiles
count, built as bulk fixtures of a read-only page (the writes are tested elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import Permission
from django.utils import timezone

from approvals.models import CheckException, CheckResult, PromotionRequest
from registry.models import ModelVersion, RegisteredModel
from tests.approvals.factories import PromotionRequestFactory
from tests.registry.factories import (
    BOARD_VIEW_PERMISSIONS,
    ModelVersionFactory,
    RegisteredModelFactory,
    TeamFactory,
    UserFactory,
    manager,
)


@dataclass
class DashboardScenario:
    now: datetime
    team: Any
    other_team: Any
    manager: Any
    requests: dict[str, list[PromotionRequest]]


def dashboard_manager(team: Any, **kwargs: Any) -> Any:
    """A governance manager of ``team`` who can open the admin's request pages (the view
    permissions the "Governance managers" group gives, granted directly so a transactional
    test's flush, which drops the groups, does not matter)."""
    user = manager(team, **kwargs)
    user.user_permissions.add(*Permission.objects.filter(codename__in=BOARD_VIEW_PERMISSIONS))
    return user


def requests_on(team: Any, count: int, *, version_state: str = "draft", **fields: Any) -> list:
    """``count`` requests on ``team``, one model and version each, with ``fields``; their
    ``created_at`` and ``decided_at`` set afterwards (``auto_now_add`` ignores a value)."""
    created_at = fields.pop("created_at", None)
    approval_expires_at = fields.pop("approval_expires_at", None)
    requester = UserFactory()
    models = RegisteredModel.objects.bulk_create(
        RegisteredModelFactory.build(team=team, owner=requester, backup_owner=UserFactory())
        for _ in range(count)
    )
    versions = ModelVersion.objects.bulk_create(
        ModelVersionFactory.build(
            registered_model=model,
            version="1.0.0",
            state=version_state,
            approval_expires_at=approval_expires_at,
        )
        for model in models
    )
    requests = PromotionRequest.objects.bulk_create(
        PromotionRequestFactory.build(version=version, requested_by=requester, **fields)
        for version in versions
    )
    if created_at is not None:
        PromotionRequest.objects.filter(pk__in=[r.pk for r in requests]).update(
            created_at=created_at
        )
    return list(PromotionRequest.objects.filter(pk__in=[r.pk for r in requests]))


def fail_check(requests: list, check_name: str) -> list[CheckResult]:
    return CheckResult.objects.bulk_create(
        CheckResult(request=r, check_name=check_name, passed=False, detail="failed")
        for r in requests
    )


def build_dashboard_scenario() -> DashboardScenario:
    """The manager's team holds, relative to ``now``:

    - pending: 2 in review under a day old, 1 of 2 days, 1 of 5 days, 1 of 10 days, and 3
      of 20 days (2 of them overdue), 1 submitted of 2 days;
    - approved: 2 expiring in 10 days, 1 in 40 days (decided 1 and 3 weeks ago);
    - rejected: 3 "bias", 1 "docs" in the last 90 days, 1 "bias" 120 days ago;
    - failed checks: eval_thresholds on 3 recent requests, metadata_complete on 1; one
      exception granted.

    The other team has 4 pending (overdue) requests and 2 "bias" rejections that must not
    count.
    """
    now = timezone.now()
    team, other_team = TeamFactory(slug="assistants"), TeamFactory(slug="vision")
    day = timedelta(days=1)
    r: dict[str, list[PromotionRequest]] = {}
    r["young"] = requests_on(team, 2, created_at=now - day / 2, due_at=now + 3 * day)
    r["two_days"] = requests_on(team, 1, created_at=now - 2 * day, due_at=now + 2 * day)
    r["submitted"] = requests_on(team, 1, state="submitted", created_at=now - 2 * day)
    r["five_days"] = requests_on(team, 1, created_at=now - 5 * day, due_at=now + day)
    r["ten_days"] = requests_on(team, 1, created_at=now - 10 * day, due_at=now + day)
    r["old_overdue"] = requests_on(team, 2, created_at=now - 20 * day, due_at=now - 6 * day)
    r["old_on_time"] = requests_on(team, 1, created_at=now - 20 * day, due_at=now + day)
    r["expiring"] = requests_on(
        team,
        2,
        state="approved",
        version_state="approved",
        approval_expires_at=now + 10 * day,
        created_at=now - 12 * day,
        decided_at=now - 7 * day,
    )
    r["expiring_later"] = requests_on(
        team,
        1,
        state="approved",
        version_state="approved",
        approval_expires_at=now + 40 * day,
        created_at=now - 30 * day,
        decided_at=now - 21 * day,
    )
    r["bias"] = requests_on(
        team,
        3,
        state="rejected",
        reasons=["rejected: bias"],
        created_at=now - 8 * day,
        decided_at=now - 7 * day,
    )
    r["docs"] = requests_on(
        team,
        1,
        state="rejected",
        reasons=["rejected: docs"],
        created_at=now - 3 * day,
        decided_at=now - 2 * day,
    )
    r["old_bias"] = requests_on(
        team,
        1,
        state="rejected",
        reasons=["rejected: bias"],
        created_at=now - 121 * day,
        decided_at=now - 120 * day,
    )
    thresholds = fail_check([*r["bias"], r["two_days"][0]], "eval_thresholds")
    fail_check(r["docs"], "metadata_complete")
    fail_check(r["old_bias"], "eval_thresholds")  # created before the window
    boss = dashboard_manager(team)
    CheckException.objects.create(
        request=r["two_days"][0],
        check_result=thresholds[-1],
        check_name="eval_thresholds",
        justification="Accepted for the pilot; retrain scheduled.",
        granted_by=boss,
        granted_at=now - day,
        expires_at=now + 13 * day,
    )
    r["other_pending"] = requests_on(other_team, 4, created_at=now - 20 * day, due_at=now - 2 * day)
    r["other_bias"] = requests_on(
        other_team,
        2,
        state="rejected",
        reasons=["rejected: bias"],
        created_at=now - 8 * day,
        decided_at=now - 7 * day,
    )
    fail_check(r["other_bias"], "eval_thresholds")
    return DashboardScenario(now=now, team=team, other_team=other_team, manager=boss, requests=r)


def bulk_pending(team: Any, count: int, now: datetime) -> None:
    """``count`` more requests in every tile's condition (for query counts at two sizes)."""
    quarter = count // 4
    day = timedelta(days=1)
    requests_on(team, quarter, created_at=now - 5 * day, due_at=now - day)
    requests_on(
        team,
        quarter,
        state="approved",
        version_state="approved",
        approval_expires_at=now + 5 * day,
        created_at=now - 3 * day,
        decided_at=now - 2 * day,
    )
    rejected = requests_on(
        team,
        quarter,
        state="rejected",
        reasons=["rejected: bias"],
        created_at=now - 3 * day,
        decided_at=now - day,
    )
    fail_check(rejected, "eval_thresholds")
    requests_on(team, count - 3 * quarter, created_at=now - 2 * day, due_at=now + day)
