"""End to end in a real browser: a governance manager reads the dashboard and grants an
exception for a non-critical check, told up front on the form that the critical ones
cannot be excepted.

Runs Debian's Chromium through Playwright against the live test server; every page's
requests are logged and none may leave 127.0.0.1 (``open_page``).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.checks import CRITICAL_REFUSAL, exception_max_days
from approvals.models import CheckException, PromotionRequest
from tests.approvals import test_checks_and_overrides
from tests.approvals.admin.dashboard_scenario import build_dashboard_scenario, dashboard_manager
from tests.approvals.admin.test_override_form import request_failing_thresholds
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e

#: The fixture of the checks tests: a team whose policy needs quality >= 0.85.
team = test_checks_and_overrides.team

OPEN = ["submitted", "checking", "in_review"]


@pytest.mark.django_db(transaction=True)
def test_a_manager_reads_the_dashboard_and_its_tiles_match_the_database(
    live_server, open_page, seeded_policies
):
    # Given the dashboard scenario's two teams and the manager of one
    scenario = build_dashboard_scenario()
    mine = PromotionRequest.objects.filter(version__registered_model__team=scenario.team)
    page = open_page()
    log_in(page, live_server, scenario.manager.username)

    # When the manager opens the dashboard
    page.goto(f"{live_server.url}/admin/dashboard/")

    # Then the tiles show what the database holds for the manager's team
    def tile(name: str) -> int:
        return int(page.inner_text(f"#tile-{name} .govboard-number"))

    now = timezone.now()
    assert tile("pending") == mine.filter(state__in=OPEN).count() == 9
    assert tile("sla-breaches") == mine.filter(state__in=OPEN, due_at__lt=now).count() == 2
    assert (
        tile("expiring")
        == mine.filter(
            state="approved", version__approval_expires_at__range=(now, now + timedelta(days=30))
        ).count()
        == 2
    )
    # And the team chart's bar states the same count, as text
    bar = page.locator("#chart-team a.govboard-bar")
    assert bar.count() == 1
    assert bar.get_attribute("data-label") == scenario.team.slug
    assert page.text_content("#chart-team .govboard-bar-value") == str(tile("pending"))

    # When they follow the SLA-breaches tile
    page.click("#tile-sla-breaches a")
    page.wait_for_load_state()

    # Then the request list shows exactly the overdue requests
    assert "overdue=yes" in page.url
    # (the list is uncounted: its rows are the answer)
    assert page.locator("#result_list tbody tr").count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_manager_excepts_a_non_critical_check_and_is_told_the_critical_ones_cannot_be(
    live_server, open_page, seeded_policies, team
):
    # Given a request in review that missed its quality threshold, and the team's manager
    request = request_failing_thresholds(team)
    boss = dashboard_manager(team)
    page = open_page()
    log_in(page, live_server, boss.username)

    # When the manager opens the request and clicks "Grant exception"
    page.goto(f"{live_server.url}/admin/approvals/promotionrequest/{request.pk}/change/")
    page.click("a.govboard-action:text('Grant exception')")
    page.wait_for_load_state()

    # Then the form offers only the failed non-critical check ...
    offered = page.locator("input[name=check_name]")
    assert offered.count() == 1
    assert offered.get_attribute("value") == "eval_thresholds"
    # ... and says, before anything is submitted, that the critical ones cannot be excepted
    not_offered = page.inner_text("#override-not-offered")
    assert f"sbom: SBOM present and valid CycloneDX JSON: {CRITICAL_REFUSAL}" in not_offered
    assert f"dependency_scan: No open critical vulnerability: {CRITICAL_REFUSAL}" in not_offered
    # ... with a date picker bounded by the policy's maximum
    expiry = page.locator("#id_expires_at")
    last = timezone.localdate() + timedelta(days=exception_max_days(request.policy_snapshot))
    assert (expiry.get_attribute("type"), expiry.get_attribute("max")) == (
        "date",
        last.isoformat(),
    )

    # When they except it for two weeks with a justification
    expires_on = timezone.localdate() + timedelta(days=14)
    offered.check()
    page.fill("#id_justification", "Accepted for the pilot; retrain scheduled for next sprint.")
    expiry.fill(expires_on.isoformat())
    page.click("input[name=_confirm]")
    page.wait_for_load_state()

    # Then they are back on the request, told the exception is recorded
    assert "The exception is recorded." in page.content()
    exception = CheckException.objects.get(request=request)
    assert (exception.check_name, exception.granted_by_id) == ("eval_thresholds", boss.pk)
    assert timezone.localtime(exception.expires_at).date() == expires_on
