"""The governance scorecard page (``admin:scorecard``): the figures of
``approvals.scorecard`` for a picked window, overall and per team.

Who sees it is ``Verb.VIEW_SCORECARD`` (the dashboard's readers: governance managers and
auditors); the teams listed are the ones the person may see. A bad window is a form error
and no figures. The page runs the same queries whatever the data size: the teams (for the
picker and the permission), then the scorecard's own.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from approvals.forms.scorecard import ScorecardWindowForm
from approvals.scorecard import governance_scorecard
from core.permissions import RULES, Verb, teams_for


def scorecard_view(request: HttpRequest) -> HttpResponse:
    """The scorecard of the teams the user manages or audits; 403 for anyone else."""
    teams = list(teams_for(request.user, Verb.VIEW_SCORECARD).order_by("slug"))
    if not teams:
        raise PermissionDenied(RULES[Verb.VIEW_SCORECARD].refusal)
    now = timezone.now()
    form = ScorecardWindowForm(request.GET or None, teams=teams, now=now)
    scorecard = None
    if not form.is_bound:
        form = ScorecardWindowForm({"period": form.fields["period"].initial}, teams=teams, now=now)
    if form.is_valid():
        start, end = form.cleaned_data["window"]
        scorecard = governance_scorecard(
            user=request.user,
            window_start=start,
            window_end=end,
            now=now,
            team=form.team_slug,
        )
    context = {
        **admin.site.each_context(request),
        "title": "Governance scorecard",
        "form": form,
        "scorecard": scorecard,
        "now": now,
    }
    return TemplateResponse(request, "admin/approvals/scorecard.html", context)


admin.site.register_page("scorecard/", scorecard_view, name="scorecard")

__all__ = ["scorecard_view"]
