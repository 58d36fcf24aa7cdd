"""Where each person lands: the one rule for "who lands where", used by ``/``, by the
admin's login (no ``next``) and by "View site"; and the favicon every browser asks for.

The project package may name every app's pages, so the rule lives here, on the roof.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from core.permissions import ANY_TEAM_ROLE, Verb, teams_for
from registry.selectors import versions_owned_by

FAVICON = Path(__file__).resolve().parent.parent / "core" / "static" / "core" / "favicon.ico"
#: An auditor reads the audit log (both auditor groups hold this; board members do not).
AUDITOR_PERMISSION = "audit.view_auditevent"


def landing_url_name(user: Any) -> str:
    """The admin page a signed-in person starts on, first match wins: a board member
    their queue, a governance manager the dashboard, an auditor the audit log, a model
    owner "My models", anyone else the admin index. At most four small queries."""
    if teams_for(user, Verb.SIGN, role=ANY_TEAM_ROLE).exists():
        return "admin:awaiting"
    # Expediting is the governance managers' own verb (their team role, no superuser).
    if teams_for(user, Verb.EXPEDITE).exists():
        return "admin:dashboard"
    if not user.is_superuser and user.has_perm(AUDITOR_PERMISSION):
        return "admin:audit_auditevent_changelist"
    if versions_owned_by(user).exists():
        return "admin:my_models"
    return "admin:index"


@require_safe
def landing(request: HttpRequest) -> HttpResponse:
    """``/``: the person's landing page, or the sign-in page (which comes back here)."""
    if not request.user.is_authenticated or not request.user.is_staff:
        login = reverse("admin:login")
        return HttpResponseRedirect(f"{login}?{urlencode({REDIRECT_FIELD_NAME: '/'})}")
    return HttpResponseRedirect(reverse(landing_url_name(request.user)))


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers ask for on every page whatever the page links."""
    return FileResponse(FAVICON.open("rb"), content_type="image/x-icon")
